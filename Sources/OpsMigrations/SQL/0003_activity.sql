-- Activity ledger: agents, runs, messages, LLM calls, heartbeats, pricing, the ticker's event
-- log, and the cache of expensive aggregate answers.
--
-- Sized for a host that runs ~1M runs a day and keeps 90 days (~90M runs): every time
-- window query is a range scan on a B-tree over the timestamp it filters by, with the
-- columns it aggregates INCLUDEd so the scan can stay in the index. Runs are updated as they
-- move queued → running → done, so BRIN (append-only tables only) does not fit them.
-- Retention deletes by day (see README); partitioning by day is the next step if VACUUM of
-- 90M rows becomes the bottleneck.

CREATE TABLE ops.agents (
    agent_id    text PRIMARY KEY,
    name        text NOT NULL,
    owner_email text,
    owner_id    text,
    schedule    text,
    created_at  timestamptz,
    updated_at  timestamptz,
    ingested_at timestamptz NOT NULL DEFAULT now()
);
-- agents_scheduled counts this; partial index stays tiny.
CREATE INDEX agents_scheduled ON ops.agents (agent_id) WHERE schedule IS NOT NULL;

CREATE TABLE ops.runs (
    run_id            text PRIMARY KEY,
    agent_id          text NOT NULL,
    user_id           text,
    status            text NOT NULL CHECK (status IN ('queued', 'running', 'success', 'failed', 'canceled')),
    created_at        timestamptz NOT NULL,
    started_at        timestamptz,
    finished_at       timestamptz,
    duration_ms       bigint CHECK (duration_ms >= 0),
    model             text,
    prompt_tokens     bigint CHECK (prompt_tokens >= 0),
    completion_tokens bigint CHECK (completion_tokens >= 0),
    cost_usd          numeric(20, 10) CHECK (cost_usd >= 0),
    error             text,
    ingested_at       timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 80);  -- room for the status updates to stay HOT
-- runs_today, runs_by_hour, top agents/users (by start time).
CREATE INDEX runs_started ON ops.runs (started_at) INCLUDE (agent_id, user_id, duration_ms, cost_usd)
    WHERE started_at IS NOT NULL;
-- cost, errors, latency, budgets (by finish time).
CREATE INDEX runs_finished ON ops.runs (finished_at) INCLUDE (status, cost_usd, duration_ms, user_id, agent_id)
    WHERE finished_at IS NOT NULL;
-- overview windows (by creation time) and queued runs.
CREATE INDEX runs_created ON ops.runs (created_at) INCLUDE (status, duration_ms);
-- per-user budget check: spend and runs of one user today.
CREATE INDEX runs_user_finished ON ops.runs (user_id, finished_at) INCLUDE (cost_usd) WHERE finished_at IS NOT NULL;
CREATE INDEX runs_user_started ON ops.runs (user_id, started_at) WHERE started_at IS NOT NULL;
-- per-agent history (agent detail views, joins from agents).
CREATE INDEX runs_agent_started ON ops.runs (agent_id, started_at);
-- recent failures.
CREATE INDEX runs_failed ON ops.runs (finished_at DESC) WHERE status = 'failed';

CREATE TABLE ops.messages (
    message_id  text PRIMARY KEY,
    thread_id   text NOT NULL,
    user_id     text,
    created_at  timestamptz NOT NULL,
    ingested_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_created ON ops.messages (created_at) INCLUDE (user_id);
CREATE INDEX messages_thread ON ops.messages (thread_id, created_at);

-- Effective-dated prices: the row with the latest valid_from <= the call's ts applies.
CREATE TABLE ops.pricing (
    provider             text NOT NULL,
    model                text NOT NULL,
    valid_from           timestamptz NOT NULL,
    usd_per_m_prompt     numeric(20, 10) NOT NULL CHECK (usd_per_m_prompt >= 0),
    usd_per_m_completion numeric(20, 10) NOT NULL CHECK (usd_per_m_completion >= 0),
    usd_per_m_cached     numeric(20, 10) CHECK (usd_per_m_cached >= 0),
    PRIMARY KEY (provider, model, valid_from)
);

-- The usage ledger: append-only (a replayed id changes nothing).
CREATE TABLE ops.llm_calls (
    id                text PRIMARY KEY,
    ts                timestamptz NOT NULL,
    org_id            text,
    run_id            text,
    provider          text NOT NULL,
    model             text NOT NULL,
    prompt_tokens     bigint CHECK (prompt_tokens >= 0),
    completion_tokens bigint CHECK (completion_tokens >= 0),
    latency_ms        bigint CHECK (latency_ms >= 0),
    status            text,
    error_code        text,
    cost_usd          numeric(20, 10) CHECK (cost_usd >= 0),
    -- 'reported' by the host app, 'priced' from ops.pricing, NULL = unknown.
    cost_source       text CHECK (cost_source IN ('reported', 'priced')),
    ingested_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX llm_calls_ts ON ops.llm_calls (ts) INCLUDE (provider, model, prompt_tokens, completion_tokens,
    latency_ms, status, error_code, cost_usd);
CREATE INDEX llm_calls_run ON ops.llm_calls (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX llm_calls_org_ts ON ops.llm_calls (org_id, ts) WHERE org_id IS NOT NULL;

-- Latest heartbeat per component, and their history for the monitor's time series.
CREATE TABLE ops.heartbeats (
    component      text PRIMARY KEY,
    component_type text NOT NULL CHECK (component_type IN ('worker', 'model', 'service', 'queue')),
    status         text NOT NULL,
    ts             timestamptz NOT NULL,
    metrics        jsonb NOT NULL DEFAULT '{}',
    received_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX heartbeats_type ON ops.heartbeats (component_type);

CREATE TABLE ops.heartbeat_samples (
    component      text NOT NULL,
    ts             timestamptz NOT NULL,
    status         text NOT NULL,
    metrics        jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (component, ts)
);
-- Append-only by time: BRIN fits.
CREATE INDEX heartbeat_samples_ts ON ops.heartbeat_samples USING brin (ts);

-- The ticker's event log. Ingest inserts rows and NOTIFYs ops_events with the newest id in
-- the same transaction; listeners read WHERE id > last_seen, which also fills gaps after a
-- dropped connection.
CREATE TABLE ops.events (
    id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ts   timestamptz NOT NULL DEFAULT now(),
    type text NOT NULL,
    data jsonb NOT NULL
);
CREATE INDEX events_ts ON ops.events USING brin (ts);

-- Bumped (nextval) by every ingest transaction that stores something; cached answers
-- remember the value they were computed at.
CREATE SEQUENCE ops.data_version;

-- Cached answers of expensive aggregate routes (summary, timeseries, top, overview).
CREATE UNLOGGED TABLE ops.api_cache (
    key          text PRIMARY KEY,
    data_version bigint NOT NULL,
    computed_at  timestamptz NOT NULL,
    compute_ms   double precision NOT NULL,
    body         text NOT NULL
);

-- Alerts raised by the budget guard now and by the monitor later. One row per alert; an
-- identical alert (same dedupe_key) within 10 minutes updates the row instead of adding one.
CREATE TABLE ops.alerts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule            text NOT NULL,
    severity        text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    state           text NOT NULL DEFAULT 'firing' CHECK (state IN ('firing', 'acknowledged', 'resolved')),
    dedupe_key      text NOT NULL,
    title           text NOT NULL,
    detail          jsonb NOT NULL DEFAULT '{}',
    first_fired_at  timestamptz NOT NULL DEFAULT now(),
    last_fired_at   timestamptz NOT NULL DEFAULT now(),
    fire_count      integer NOT NULL DEFAULT 1,
    acknowledged_at timestamptz,
    acknowledged_by text,
    resolved_at     timestamptz
);
CREATE INDEX alerts_dedupe ON ops.alerts (dedupe_key, last_fired_at DESC);
CREATE INDEX alerts_state ON ops.alerts (state, last_fired_at DESC);
