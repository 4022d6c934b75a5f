-- Counts and costs of ops.runs by hour and day, kept by the database itself, so that summary,
-- timeseries and top read a few thousand rows instead of every run of the window (at 1M runs
-- a day the summary scanned today's runs four times: about 2 s, and it was 8 s old under
-- steady writes).
--
-- Statement triggers with transition tables turn every INSERT, UPDATE and DELETE of ops.runs
-- into its net change (new rows' contributions minus old rows'), grouped, appended to
-- ops.run_rollup_pending. Every writer is covered (ingest, the demo, SQL by hand, retention),
-- and concurrent ingest batches never contend: the pending table is insert-only. The refresher
-- folds it into ops.run_rollup (ops.fold_run_rollup) every round; readers read both through
-- ops.run_rollup_now, so an answer counts every committed run whether folded or not.
--
-- Axes (which time a run counts by, and by what key), bucket = the start of an hour or day, UTC:
--   s  started_at, hour, agent_id   runs today, runs_by_hour, top agents (and the total)
--   u  started_at, day,  user_id    top users
--   f  finished_at, hour, ''        cost today, cost_by_hour, errors_by_hour
--   c  finished_at, day, user_id    spend per user (budget_user); only runs with a known cost
-- `costs` counts the runs whose cost is known: a sum over none of them is null (unknown), not 0.
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

-- No index: it holds only what changed since the last fold (a fraction of a second of ingest).
CREATE TABLE ops.run_rollup_pending (
    axis   "char" NOT NULL,
    bucket timestamptz NOT NULL,
    key    text NOT NULL,
    runs   bigint NOT NULL,
    failed bigint NOT NULL,
    cost   numeric NOT NULL,
    costs  bigint NOT NULL
);

CREATE VIEW ops.run_rollup_now AS
    SELECT axis, bucket, key, runs, failed, cost, costs FROM ops.run_rollup
    UNION ALL
    SELECT axis, bucket, key, runs, failed, cost, costs FROM ops.run_rollup_pending;

-- The contributions of a set of runs `c` (sign +1 or -1 each) to the four axes, grouped. The
-- query text is shared by the trigger and the backfill below.
CREATE FUNCTION ops.run_rollup_query() RETURNS text LANGUAGE sql IMMUTABLE AS $fn$
SELECT $q$
    SELECT axis, bucket, key, sum(runs), sum(failed), sum(cost), sum(costs)
    FROM (
        SELECT 's'::"char", date_trunc('hour', started_at, 'UTC'), agent_id, sign, 0,
               sign * coalesce(cost_usd, 0), sign * (cost_usd IS NOT NULL)::int
        FROM c WHERE started_at IS NOT NULL
        UNION ALL
        SELECT 'u', date_trunc('day', started_at, 'UTC'), user_id, sign, 0,
               sign * coalesce(cost_usd, 0), sign * (cost_usd IS NOT NULL)::int
        FROM c WHERE started_at IS NOT NULL AND user_id IS NOT NULL
        UNION ALL
        SELECT 'f', date_trunc('hour', finished_at, 'UTC'), '', 0, sign * (status = 'failed')::int,
               sign * coalesce(cost_usd, 0), sign * (cost_usd IS NOT NULL)::int
        FROM c WHERE finished_at IS NOT NULL
        UNION ALL
        SELECT 'c', date_trunc('day', finished_at, 'UTC'), user_id, 0, 0, sign * cost_usd, sign
        FROM c WHERE finished_at IS NOT NULL AND user_id IS NOT NULL AND cost_usd IS NOT NULL
    ) x (axis, bucket, key, runs, failed, cost, costs)
    GROUP BY axis, bucket, key
    HAVING sum(runs) <> 0 OR sum(failed) <> 0 OR sum(cost) <> 0 OR sum(costs) <> 0
    $q$
$fn$;

CREATE FUNCTION ops.runs_to_rollup() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    cols constant text := 'started_at, finished_at, agent_id, user_id, status, cost_usd';
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
    RETURN NULL;
END
$fn$;

CREATE TRIGGER runs_rollup_insert AFTER INSERT ON ops.runs REFERENCING NEW TABLE AS new_runs
    FOR EACH STATEMENT EXECUTE FUNCTION ops.runs_to_rollup();
CREATE TRIGGER runs_rollup_update AFTER UPDATE ON ops.runs REFERENCING OLD TABLE AS old_runs NEW TABLE AS new_runs
    FOR EACH STATEMENT EXECUTE FUNCTION ops.runs_to_rollup();
CREATE TRIGGER runs_rollup_delete AFTER DELETE ON ops.runs REFERENCING OLD TABLE AS old_runs
    FOR EACH STATEMENT EXECUTE FUNCTION ops.runs_to_rollup();

-- TRUNCATE has no transition table: it empties the aggregates with the runs.
CREATE FUNCTION ops.runs_truncate_rollup() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    TRUNCATE ops.run_rollup, ops.run_rollup_pending;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER runs_rollup_truncate AFTER TRUNCATE ON ops.runs
    FOR EACH STATEMENT EXECUTE FUNCTION ops.runs_truncate_rollup();

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

-- What ops.runs already holds.
DO $do$
BEGIN
    EXECUTE 'INSERT INTO ops.run_rollup (axis, bucket, key, runs, failed, cost, costs) WITH c AS ('
            || 'SELECT 1 AS sign, started_at, finished_at, agent_id, user_id, status, cost_usd FROM ops.runs) '
            || ops.run_rollup_query();
END
$do$;
