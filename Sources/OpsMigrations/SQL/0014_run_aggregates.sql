-- Aggregates of ops.runs kept by the database itself, so that summary, timeseries and top do
-- not read every run of their window: at 1M runs today the summary scanned the day's runs
-- four times and sorted its durations twice (about 2 s), and under steady writes its answer
-- was 8 s old.
--
-- Statement triggers with transition tables turn every INSERT, UPDATE and DELETE of ops.runs
-- into its net change (new rows' contributions minus old rows'), grouped, appended to two
-- insert-only tables. Every writer is covered (ingest, the demo, SQL by hand, retention), and
-- concurrent ingest batches never contend on a row.
--
-- 1. Counts and costs, ops.run_rollup_pending. The refresher folds it into ops.run_rollup
--    (ops.fold_run_rollup) every round; readers read both through ops.run_rollup_now, so an
--    answer counts every committed run whether folded or not. Axes (which time a run counts
--    by, and by what key); bucket = the start of an hour or a day, UTC:
--      s  started_at, hour, agent_id   runs today, runs_by_hour, top agents (and the total)
--      u  started_at, day,  user_id    top users; each user's runs today (budget guard, alerts)
--      h  started_at, hour, user_id    active users in 24 h (every hour but the first, partial one)
--      f  finished_at, hour, ''        cost today, cost_by_hour, errors_by_hour, global spend
--      c  finished_at, day, user_id    each user's spend (budget_user, budget guard, alerts); only
--                                      runs with a known cost
--    `costs` counts the runs whose cost is known: a sum over none of them is null (unknown).
-- 2. Duration histograms (value -> how many runs have it), ops.run_duration_pending:
--      l  finished_at day, ''          durations of successful runs (latency_ms p50/p95)
--      a  started_at day, agent_id     durations of each agent's runs (p95_ms)
--    Runs without a duration are in neither (percentile_cont skips NULLs as well). The
--    refresher takes the rows (DELETE ... RETURNING) into today's histograms, which it keeps
--    in memory (RunDurations): exact percentiles without sorting the day's durations. A
--    TRUNCATE of ops.runs moves ops.run_rollup_epoch on, which tells it to build them again.
--
-- Buckets come from date_bin on a UTC origin, not date_trunc(..., 'UTC'): the time-zone
-- lookup per call made the trigger twice as slow.
CREATE TABLE ops.run_rollup (
    axis   "char" NOT NULL,
    bucket timestamptz NOT NULL,
    key    text NOT NULL,
    runs   bigint NOT NULL,
    failed bigint NOT NULL,
    cost   numeric NOT NULL,
    costs  bigint NOT NULL,
    PRIMARY KEY (axis, bucket, key)
);

-- No index on either: they hold only what changed since the last fold or take (a fraction
-- of a second of ingest). LIKE copies the columns, not the primary key.
CREATE TABLE ops.run_rollup_pending (LIKE ops.run_rollup);

CREATE TABLE ops.run_duration_pending (
    axis        "char" NOT NULL,
    day         timestamptz NOT NULL,
    key         text NOT NULL,
    duration_ms bigint NOT NULL,
    n           bigint NOT NULL
);

CREATE SEQUENCE ops.run_rollup_epoch;

CREATE VIEW ops.run_rollup_now AS
    SELECT axis, bucket, key, runs, failed, cost, costs FROM ops.run_rollup
    UNION ALL
    SELECT axis, bucket, key, runs, failed, cost, costs FROM ops.run_rollup_pending;

-- The contributions of a set of runs `c` (columns sign +1/-1, started_at, finished_at,
-- agent_id, user_id, status, cost_usd, duration_ms), grouped: the text of the queries the
-- triggers below are generated from, and that the backfill runs.
CREATE FUNCTION ops.run_rollup_query() RETURNS text LANGUAGE sql IMMUTABLE AS $fn$
SELECT $q$
    SELECT axis, bucket, key, sum(runs), sum(failed), sum(cost), sum(costs)
    FROM (
        SELECT 's'::"char", date_bin('1 hour', started_at, timestamptz '2000-01-01 00:00:00+00'), agent_id, sign, 0,
               sign * coalesce(cost_usd, 0), sign * (cost_usd IS NOT NULL)::int
        FROM c WHERE started_at IS NOT NULL
        UNION ALL
        SELECT 'u', date_bin('1 day', started_at, timestamptz '2000-01-01 00:00:00+00'), user_id, sign, 0,
               sign * coalesce(cost_usd, 0), sign * (cost_usd IS NOT NULL)::int
        FROM c WHERE started_at IS NOT NULL AND user_id IS NOT NULL
        UNION ALL
        SELECT 'h', date_bin('1 hour', started_at, timestamptz '2000-01-01 00:00:00+00'), user_id, sign, 0, 0, 0
        FROM c WHERE started_at IS NOT NULL AND user_id IS NOT NULL
        UNION ALL
        SELECT 'f', date_bin('1 hour', finished_at, timestamptz '2000-01-01 00:00:00+00'), '', 0,
               sign * (status = 'failed')::int, sign * coalesce(cost_usd, 0), sign * (cost_usd IS NOT NULL)::int
        FROM c WHERE finished_at IS NOT NULL
        UNION ALL
        SELECT 'c', date_bin('1 day', finished_at, timestamptz '2000-01-01 00:00:00+00'), user_id, 0, 0,
               sign * cost_usd, sign
        FROM c WHERE finished_at IS NOT NULL AND user_id IS NOT NULL AND cost_usd IS NOT NULL
    ) x (axis, bucket, key, runs, failed, cost, costs)
    GROUP BY axis, bucket, key
    HAVING sum(runs) <> 0 OR sum(failed) <> 0 OR sum(cost) <> 0 OR sum(costs) <> 0
$q$
$fn$;

CREATE FUNCTION ops.run_duration_query() RETURNS text LANGUAGE sql IMMUTABLE AS $fn$
SELECT $q$
    SELECT axis, day, key, duration_ms, sum(n)
    FROM (
        SELECT 'l'::"char", date_bin('1 day', finished_at, timestamptz '2000-01-01 00:00:00+00'), '', duration_ms, sign
        FROM c WHERE status = 'success' AND finished_at IS NOT NULL AND duration_ms IS NOT NULL
        UNION ALL
        SELECT 'a', date_bin('1 day', started_at, timestamptz '2000-01-01 00:00:00+00'), agent_id, duration_ms, sign
        FROM c WHERE started_at IS NOT NULL AND duration_ms IS NOT NULL
    ) x (axis, day, key, duration_ms, n)
    GROUP BY axis, day, key, duration_ms
    HAVING sum(n) <> 0
$q$
$fn$;

-- One trigger function per operation, generated here from the two queries: static SQL, so
-- PL/pgSQL keeps its plans (EXECUTE planned them on every batch, a third of the trigger's
-- time). An update counts as its old rows out and its new rows in: a run moving queued ->
-- running -> success moves between buckets.
DO $do$
DECLARE
    cols constant text := 'started_at, finished_at, agent_id, user_id, status, cost_usd, duration_ms';
    op record;
BEGIN
    FOR op IN SELECT * FROM (VALUES
        ('insert', format('SELECT 1 AS sign, %s FROM new_runs', cols)),
        ('update', format('SELECT 1 AS sign, %s FROM new_runs UNION ALL SELECT -1, %s FROM old_runs', cols, cols)),
        ('delete', format('SELECT -1 AS sign, %s FROM old_runs', cols))) v (name, runs_sql)
    LOOP
        EXECUTE format($f$
            CREATE FUNCTION ops.runs_aggregate_%s() RETURNS trigger LANGUAGE plpgsql AS $body$
            BEGIN
                INSERT INTO ops.run_rollup_pending (axis, bucket, key, runs, failed, cost, costs)
                WITH c AS (%s) %s;
                INSERT INTO ops.run_duration_pending (axis, day, key, duration_ms, n)
                WITH c AS (%s) %s;
                RETURN NULL;
            END
            $body$$f$, op.name, op.runs_sql, ops.run_rollup_query(), op.runs_sql, ops.run_duration_query());
    END LOOP;
END
$do$;

CREATE TRIGGER runs_aggregate_insert AFTER INSERT ON ops.runs REFERENCING NEW TABLE AS new_runs
    FOR EACH STATEMENT EXECUTE FUNCTION ops.runs_aggregate_insert();
CREATE TRIGGER runs_aggregate_update AFTER UPDATE ON ops.runs REFERENCING OLD TABLE AS old_runs NEW TABLE AS new_runs
    FOR EACH STATEMENT EXECUTE FUNCTION ops.runs_aggregate_update();
CREATE TRIGGER runs_aggregate_delete AFTER DELETE ON ops.runs REFERENCING OLD TABLE AS old_runs
    FOR EACH STATEMENT EXECUTE FUNCTION ops.runs_aggregate_delete();

-- TRUNCATE has no transition table: it empties the aggregates with the runs. With DELETE, not
-- TRUNCATE: that would take the aggregates' exclusive locks after ops.runs', while an answer
-- being computed holds theirs (it read them first) and waits for ops.runs': a deadlock. No
-- ingest can be writing meanwhile (the TRUNCATE holds ops.runs), and the fold's lock keeps a
-- fold in progress from writing back rows after they are deleted here.
CREATE FUNCTION ops.runs_aggregate_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM pg_advisory_xact_lock(7286412098153);
    PERFORM nextval('ops.run_rollup_epoch');
    DELETE FROM ops.run_rollup;
    DELETE FROM ops.run_rollup_pending;
    DELETE FROM ops.run_duration_pending;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER runs_aggregate_truncate AFTER TRUNCATE ON ops.runs
    FOR EACH STATEMENT EXECUTE FUNCTION ops.runs_aggregate_truncate();

-- Moves what is pending into ops.run_rollup in one transaction (readers see either side,
-- never both or neither); returns the rows it moved. Rows that concurrent batches have not
-- committed yet stay for the next fold. One folder at a time: two would only wait on each
-- other's row locks, and the lock makes the second skip instead.
CREATE FUNCTION ops.fold_run_rollup() RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
    moved bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(7286412098153) THEN
        RETURN 0;
    END IF;
    WITH m AS (DELETE FROM ops.run_rollup_pending RETURNING *),
    g AS (SELECT axis, bucket, key, sum(runs) AS runs, sum(failed) AS failed, sum(cost) AS cost, sum(costs) AS costs,
                 count(*) AS n
          FROM m GROUP BY axis, bucket, key),
    u AS (INSERT INTO ops.run_rollup AS r (axis, bucket, key, runs, failed, cost, costs)
          SELECT axis, bucket, key, runs, failed, cost, costs FROM g ORDER BY axis, bucket, key
          ON CONFLICT (axis, bucket, key) DO UPDATE SET runs = r.runs + EXCLUDED.runs,
              failed = r.failed + EXCLUDED.failed, cost = r.cost + EXCLUDED.cost, costs = r.costs + EXCLUDED.costs)
    SELECT coalesce(sum(n), 0) INTO moved FROM g;
    RETURN moved;
END
$fn$;

-- What ops.runs already holds (the histograms are built by the refresher when it starts).
DO $do$
BEGIN
    EXECUTE 'INSERT INTO ops.run_rollup (axis, bucket, key, runs, failed, cost, costs) WITH c AS ('
            || 'SELECT 1 AS sign, started_at, finished_at, agent_id, user_id, status, cost_usd, duration_ms FROM ops.runs) '
            || ops.run_rollup_query();
END
$do$;
