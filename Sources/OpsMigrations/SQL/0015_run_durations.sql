-- Run durations as they change, for the percentiles of today (summary latency p50/p95 and the
-- top agents' p95_ms). At 1M runs today those were two sorts of every duration of the day:
-- about 1.1 s of the summary's 1.7 s once counts and costs came from ops.run_rollup (0014).
--
-- The same statement triggers append, for every write to ops.runs, the net change of the
-- duration histograms (value -> how many runs have it) to ops.run_duration_pending:
--   l  finish day, ''        durations of successful runs (latency_ms)
--   a  start day, agent_id   durations of each agent's runs (p95_ms)
-- Runs without a duration are in neither (percentile_cont skips NULLs as well). The refresher
-- takes the rows (DELETE ... RETURNING) into today's histograms, which it keeps in memory
-- (AnswerRefresher, RunDurations): exact percentiles without reading the day's runs again.
-- Rows of other days are dropped when taken. A TRUNCATE of ops.runs moves
-- ops.run_rollup_epoch on, which tells the refresher to build its histograms again.
CREATE TABLE ops.run_duration_pending (
    axis        "char" NOT NULL,
    day         date NOT NULL,
    key         text NOT NULL,
    duration_ms bigint NOT NULL,
    n           bigint NOT NULL
);

CREATE FUNCTION ops.run_duration_query() RETURNS text LANGUAGE sql IMMUTABLE AS $fn$
SELECT $q$
    SELECT axis, day, key, duration_ms, sum(n)
    FROM (
        SELECT 'l'::"char", (finished_at AT TIME ZONE 'UTC')::date, '', duration_ms, sign
        FROM c WHERE status = 'success' AND finished_at IS NOT NULL AND duration_ms IS NOT NULL
        UNION ALL
        SELECT 'a', (started_at AT TIME ZONE 'UTC')::date, agent_id, duration_ms, sign
        FROM c WHERE started_at IS NOT NULL AND duration_ms IS NOT NULL
    ) x (axis, day, key, duration_ms, n)
    GROUP BY axis, day, key, duration_ms
    HAVING sum(n) <> 0
    $q$
$fn$;

CREATE OR REPLACE FUNCTION ops.runs_to_rollup() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    cols constant text := 'started_at, finished_at, agent_id, user_id, status, cost_usd, duration_ms';
    runs_sql text;
BEGIN
    -- Transition tables are visible to EXECUTE; an update counts as its old rows out and its
    -- new rows in (a run moving queued -> running -> success moves between buckets).
    runs_sql := CASE TG_OP
        WHEN 'INSERT' THEN format('SELECT 1 AS sign, %s FROM new_runs', cols)
        WHEN 'DELETE' THEN format('SELECT -1 AS sign, %s FROM old_runs', cols)
        ELSE format('SELECT 1 AS sign, %s FROM new_runs UNION ALL SELECT -1, %s FROM old_runs', cols, cols)
    END;
    EXECUTE 'INSERT INTO ops.run_rollup_pending (axis, bucket, key, runs, failed, cost, costs) WITH c AS ('
            || runs_sql || ') ' || ops.run_rollup_query();
    EXECUTE 'INSERT INTO ops.run_duration_pending (axis, day, key, duration_ms, n) WITH c AS ('
            || runs_sql || ') ' || ops.run_duration_query();
    RETURN NULL;
END
$fn$;

CREATE SEQUENCE ops.run_rollup_epoch;

CREATE OR REPLACE FUNCTION ops.runs_truncate_rollup() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM nextval('ops.run_rollup_epoch');
    TRUNCATE ops.run_rollup, ops.run_rollup_pending, ops.run_duration_pending;
    RETURN NULL;
END
$fn$;
