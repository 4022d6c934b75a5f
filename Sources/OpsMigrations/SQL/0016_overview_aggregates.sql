-- Aggregates for the overview (/api/v1/ops/overview, the dashboard's KPI panel and its LLM
-- usage): at 1.4M runs in the last 24 h it read every run and LLM call of its window, 1.9 s
-- per answer, recomputed whenever data changed while a dashboard was open.
--
-- 1. Runs by created hour and status: axis o of ops.run_rollup (migration 0014), key = status.
--    The overview's rolling windows count by created_at. Two new columns hold the durations
--    of the successful runs among them (avg_runtime_ms = duration_sum / durations); they are
--    0 on every other axis.
-- 2. LLM calls by hour, provider and model: ops.llm_rollup, kept the same way as the runs'
--    (statement triggers on ops.llm_calls append net deltas to ops.llm_rollup_pending, the
--    refresher folds them, readers read ops.llm_rollup_now). The overview's LLM usage and
--    top?kind=models read it.
-- The overview's windows are rolling: its whole hours come from here, the partial first hour
-- and the rows of the current hour created after now from the tables (ActivityQueries).

ALTER TABLE ops.run_rollup ADD COLUMN duration_sum bigint NOT NULL DEFAULT 0,
                           ADD COLUMN durations bigint NOT NULL DEFAULT 0;
ALTER TABLE ops.run_rollup_pending ADD COLUMN duration_sum bigint NOT NULL DEFAULT 0,
                                   ADD COLUMN durations bigint NOT NULL DEFAULT 0;

CREATE OR REPLACE VIEW ops.run_rollup_now AS
    SELECT axis, bucket, key, runs, failed, cost, costs, duration_sum, durations FROM ops.run_rollup
    UNION ALL
    SELECT axis, bucket, key, runs, failed, cost, costs, duration_sum, durations FROM ops.run_rollup_pending;

-- Migration 0014's axes, unchanged, and axis o.
CREATE OR REPLACE FUNCTION ops.run_rollup_query() RETURNS text LANGUAGE sql IMMUTABLE AS $fn$
SELECT $q$
    SELECT axis, bucket, key, sum(runs), sum(failed), sum(cost), sum(costs), sum(duration_sum), sum(durations)
    FROM (
        SELECT 's'::"char", date_bin('1 hour', started_at, timestamptz '2000-01-01 00:00:00+00'), agent_id, sign, 0,
               sign * coalesce(cost_usd, 0), sign * (cost_usd IS NOT NULL)::int, 0, 0
        FROM c WHERE started_at IS NOT NULL
        UNION ALL
        SELECT 'u', date_bin('1 day', started_at, timestamptz '2000-01-01 00:00:00+00'), user_id, sign, 0,
               sign * coalesce(cost_usd, 0), sign * (cost_usd IS NOT NULL)::int, 0, 0
        FROM c WHERE started_at IS NOT NULL AND user_id IS NOT NULL
        UNION ALL
        SELECT 'h', date_bin('1 hour', started_at, timestamptz '2000-01-01 00:00:00+00'), user_id, sign, 0, 0, 0, 0, 0
        FROM c WHERE started_at IS NOT NULL AND user_id IS NOT NULL
        UNION ALL
        SELECT 'f', date_bin('1 hour', finished_at, timestamptz '2000-01-01 00:00:00+00'), '', 0,
               sign * (status = 'failed')::int, sign * coalesce(cost_usd, 0), sign * (cost_usd IS NOT NULL)::int, 0, 0
        FROM c WHERE finished_at IS NOT NULL
        UNION ALL
        SELECT 'c', date_bin('1 day', finished_at, timestamptz '2000-01-01 00:00:00+00'), user_id, 0, 0,
               sign * cost_usd, sign, 0, 0
        FROM c WHERE finished_at IS NOT NULL AND user_id IS NOT NULL AND cost_usd IS NOT NULL
        UNION ALL
        SELECT 'o', date_bin('1 hour', created_at, timestamptz '2000-01-01 00:00:00+00'), status, sign, 0, 0, 0,
               CASE WHEN status = 'success' THEN sign * coalesce(duration_ms, 0) ELSE 0 END,
               sign * (status = 'success' AND duration_ms IS NOT NULL)::int
        FROM c
    ) x (axis, bucket, key, runs, failed, cost, costs, duration_sum, durations)
    GROUP BY axis, bucket, key
    HAVING sum(runs) <> 0 OR sum(failed) <> 0 OR sum(cost) <> 0 OR sum(costs) <> 0
        OR sum(duration_sum) <> 0 OR sum(durations) <> 0
$q$
$fn$;

CREATE TABLE ops.llm_rollup (
    bucket            timestamptz NOT NULL,   -- the hour of ts, UTC
    provider          text NOT NULL,
    model             text NOT NULL,
    calls             bigint NOT NULL,
    prompt_tokens     bigint NOT NULL,        -- unknown token counts add 0 (as coalesce(sum(...), 0))
    completion_tokens bigint NOT NULL,
    latency_sum       bigint NOT NULL,        -- avg_latency_ms = latency_sum / latencies
    latencies         bigint NOT NULL,        -- calls whose latency is known
    errors            bigint NOT NULL,        -- status other than 'ok', or an error code
    cost              numeric NOT NULL,
    costs             bigint NOT NULL,        -- calls whose cost is known: none -> the cost is null
    PRIMARY KEY (bucket, provider, model)
);
CREATE TABLE ops.llm_rollup_pending (LIKE ops.llm_rollup);

CREATE VIEW ops.llm_rollup_now AS
    SELECT bucket, provider, model, calls, prompt_tokens, completion_tokens, latency_sum, latencies, errors, cost, costs
    FROM ops.llm_rollup
    UNION ALL
    SELECT bucket, provider, model, calls, prompt_tokens, completion_tokens, latency_sum, latencies, errors, cost, costs
    FROM ops.llm_rollup_pending;

-- The contributions of a set of LLM calls `c` (sign +1/-1 and the columns used), grouped.
CREATE FUNCTION ops.llm_rollup_query() RETURNS text LANGUAGE sql IMMUTABLE AS $fn$
SELECT $q$
    SELECT date_bin('1 hour', ts, timestamptz '2000-01-01 00:00:00+00'), provider, model, sum(sign),
           sum(sign * coalesce(prompt_tokens, 0)), sum(sign * coalesce(completion_tokens, 0)),
           sum(sign * coalesce(latency_ms, 0)), sum(sign * (latency_ms IS NOT NULL)::int),
           sum(sign * ((status IS NOT NULL AND status <> 'ok') OR error_code IS NOT NULL)::int),
           sum(sign * coalesce(cost_usd, 0)), sum(sign * (cost_usd IS NOT NULL)::int)
    FROM c
    GROUP BY 1, 2, 3
    HAVING sum(sign) <> 0 OR sum(sign * coalesce(prompt_tokens, 0)) <> 0 OR sum(sign * coalesce(completion_tokens, 0)) <> 0
        OR sum(sign * coalesce(latency_ms, 0)) <> 0 OR sum(sign * (latency_ms IS NOT NULL)::int) <> 0
        OR sum(sign * ((status IS NOT NULL AND status <> 'ok') OR error_code IS NOT NULL)::int) <> 0
        OR sum(sign * coalesce(cost_usd, 0)) <> 0 OR sum(sign * (cost_usd IS NOT NULL)::int) <> 0
$q$
$fn$;

-- Generates ops.<name>_insert / _update / _delete: statement-trigger functions that run `body`,
-- in which %1$s stands for the statement's rows with a sign (+1 new rows, -1 old rows), read
-- from the transition tables `new_table` / `old_table`. Static SQL: PL/pgSQL keeps the plans
-- (see migration 0014). An update counts as its old rows out and its new rows in.
CREATE FUNCTION ops.create_aggregate_trigger_functions(name text, new_table text, old_table text, cols text, body text)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    op record;
BEGIN
    FOR op IN SELECT * FROM (VALUES
        ('insert', format('SELECT 1 AS sign, %s FROM %s', cols, new_table)),
        ('update', format('SELECT 1 AS sign, %s FROM %s UNION ALL SELECT -1, %s FROM %s', cols, new_table, cols, old_table)),
        ('delete', format('SELECT -1 AS sign, %s FROM %s', cols, old_table))) v (name, rows_sql)
    LOOP
        EXECUTE format($f$
            CREATE OR REPLACE FUNCTION ops.%s_%s() RETURNS trigger LANGUAGE plpgsql AS $body$
            BEGIN
                %s
                RETURN NULL;
            END
            $body$$f$, name, op.name, format(body, op.rows_sql));
    END LOOP;
END
$fn$;

-- The runs' trigger functions again, now with created_at and the new columns.
SELECT ops.create_aggregate_trigger_functions('runs_aggregate', 'new_runs', 'old_runs',
    'created_at, started_at, finished_at, agent_id, user_id, status, cost_usd, duration_ms',
    'INSERT INTO ops.run_rollup_pending (axis, bucket, key, runs, failed, cost, costs, duration_sum, durations)
     WITH c AS (%1$s) ' || ops.run_rollup_query() || ';
     INSERT INTO ops.run_duration_pending (axis, day, key, duration_ms, n)
     WITH c AS (%1$s) ' || ops.run_duration_query() || ';');

SELECT ops.create_aggregate_trigger_functions('llm_calls_aggregate', 'new_calls', 'old_calls',
    'ts, provider, model, prompt_tokens, completion_tokens, latency_ms, status, error_code, cost_usd',
    'INSERT INTO ops.llm_rollup_pending (bucket, provider, model, calls, prompt_tokens, completion_tokens,
                                         latency_sum, latencies, errors, cost, costs)
     WITH c AS (%1$s) ' || ops.llm_rollup_query() || ';');

CREATE TRIGGER llm_calls_aggregate_insert AFTER INSERT ON ops.llm_calls REFERENCING NEW TABLE AS new_calls
    FOR EACH STATEMENT EXECUTE FUNCTION ops.llm_calls_aggregate_insert();
CREATE TRIGGER llm_calls_aggregate_update AFTER UPDATE ON ops.llm_calls
    REFERENCING OLD TABLE AS old_calls NEW TABLE AS new_calls
    FOR EACH STATEMENT EXECUTE FUNCTION ops.llm_calls_aggregate_update();
CREATE TRIGGER llm_calls_aggregate_delete AFTER DELETE ON ops.llm_calls REFERENCING OLD TABLE AS old_calls
    FOR EACH STATEMENT EXECUTE FUNCTION ops.llm_calls_aggregate_delete();

-- As for ops.runs (migration 0014): DELETE under the fold's lock, never TRUNCATE, in a trigger.
CREATE FUNCTION ops.llm_calls_aggregate_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM pg_advisory_xact_lock(7286412098153);
    DELETE FROM ops.llm_rollup;
    DELETE FROM ops.llm_rollup_pending;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER llm_calls_aggregate_truncate AFTER TRUNCATE ON ops.llm_calls
    FOR EACH STATEMENT EXECUTE FUNCTION ops.llm_calls_aggregate_truncate();

-- One fold for both (the refresher calls it every round), in one transaction.
CREATE OR REPLACE FUNCTION ops.fold_run_rollup() RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
    moved bigint;
    moved_calls bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(7286412098153) THEN
        RETURN 0;
    END IF;
    WITH m AS (DELETE FROM ops.run_rollup_pending RETURNING *),
    g AS (SELECT axis, bucket, key, sum(runs) AS runs, sum(failed) AS failed, sum(cost) AS cost, sum(costs) AS costs,
                 sum(duration_sum) AS duration_sum, sum(durations) AS durations, count(*) AS n
          FROM m GROUP BY axis, bucket, key),
    u AS (INSERT INTO ops.run_rollup AS r (axis, bucket, key, runs, failed, cost, costs, duration_sum, durations)
          SELECT axis, bucket, key, runs, failed, cost, costs, duration_sum, durations FROM g ORDER BY axis, bucket, key
          ON CONFLICT (axis, bucket, key) DO UPDATE SET runs = r.runs + EXCLUDED.runs,
              failed = r.failed + EXCLUDED.failed, cost = r.cost + EXCLUDED.cost, costs = r.costs + EXCLUDED.costs,
              duration_sum = r.duration_sum + EXCLUDED.duration_sum, durations = r.durations + EXCLUDED.durations)
    SELECT coalesce(sum(n), 0) INTO moved FROM g;

    WITH m AS (DELETE FROM ops.llm_rollup_pending RETURNING *),
    g AS (SELECT bucket, provider, model, sum(calls) AS calls, sum(prompt_tokens) AS prompt_tokens,
                 sum(completion_tokens) AS completion_tokens, sum(latency_sum) AS latency_sum,
                 sum(latencies) AS latencies, sum(errors) AS errors, sum(cost) AS cost, sum(costs) AS costs,
                 count(*) AS n
          FROM m GROUP BY bucket, provider, model),
    u AS (INSERT INTO ops.llm_rollup AS r (bucket, provider, model, calls, prompt_tokens, completion_tokens,
                                           latency_sum, latencies, errors, cost, costs)
          SELECT bucket, provider, model, calls, prompt_tokens, completion_tokens, latency_sum, latencies, errors,
                 cost, costs
          FROM g ORDER BY bucket, provider, model
          ON CONFLICT (bucket, provider, model) DO UPDATE SET calls = r.calls + EXCLUDED.calls,
              prompt_tokens = r.prompt_tokens + EXCLUDED.prompt_tokens,
              completion_tokens = r.completion_tokens + EXCLUDED.completion_tokens,
              latency_sum = r.latency_sum + EXCLUDED.latency_sum, latencies = r.latencies + EXCLUDED.latencies,
              errors = r.errors + EXCLUDED.errors, cost = r.cost + EXCLUDED.cost, costs = r.costs + EXCLUDED.costs)
    SELECT coalesce(sum(n), 0) INTO moved_calls FROM g;
    RETURN moved + moved_calls;
END
$fn$;

-- What the tables already hold: axis o of the runs (the other axes are there since 0014), and
-- every LLM call.
DO $do$
BEGIN
    EXECUTE 'INSERT INTO ops.run_rollup (axis, bucket, key, runs, failed, cost, costs, duration_sum, durations) '
            || 'SELECT * FROM (WITH c AS (SELECT 1 AS sign, created_at, started_at, finished_at, agent_id, user_id, '
            || 'status, cost_usd, duration_ms FROM ops.runs) ' || ops.run_rollup_query() || ') o WHERE axis = ''o''';
    EXECUTE 'INSERT INTO ops.llm_rollup (bucket, provider, model, calls, prompt_tokens, completion_tokens, '
            || 'latency_sum, latencies, errors, cost, costs) '
            || 'WITH c AS (SELECT 1 AS sign, ts, provider, model, prompt_tokens, completion_tokens, latency_ms, '
            || 'status, error_code, cost_usd FROM ops.llm_calls) ' || ops.llm_rollup_query();
END
$do$;
