-- The monitor: probes and service health, host capacity, API performance from the nginx
-- access log, alert hysteresis, silences and history, the notification outbox, rollups.
-- Time series are append-only by time (BRIN on ts); retention deletes by time.

-- Services the active monitor is configured with, written when it starts (targets with
-- credentials redacted). The API reads this list for names, kinds and 404s.
CREATE TABLE ops.monitor_services (
    name        text PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('postgres', 'http', 'tcp', 'redis', 'heartbeat')),
    target      text NOT NULL,
    interval_s  integer NOT NULL CHECK (interval_s > 0),
    timeout_ms  integer NOT NULL CHECK (timeout_ms > 0),
    thresholds  jsonb NOT NULL DEFAULT '{}',
    active      boolean NOT NULL DEFAULT true,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Latest state per service: what /api/monitoring/health answers from, one row each.
CREATE TABLE ops.service_status (
    service              text PRIMARY KEY,
    status               text NOT NULL CHECK (status IN ('healthy', 'degraded', 'down', 'unknown')),
    response_ms          double precision,
    error_count          integer NOT NULL DEFAULT 0,
    consecutive_failures integer NOT NULL DEFAULT 0,
    trend                text NOT NULL DEFAULT 'stable' CHECK (trend IN ('improving', 'degrading', 'stable')),
    anomaly              boolean NOT NULL DEFAULT false,
    message              text,
    metrics              jsonb NOT NULL DEFAULT '{}',
    checked_at           timestamptz,
    status_since         timestamptz NOT NULL DEFAULT now()
);

-- Every probe result (raw; kept for a few days, then only rollups).
CREATE TABLE ops.probe_samples (
    service     text NOT NULL,
    ts          timestamptz NOT NULL,
    status      text NOT NULL CHECK (status IN ('healthy', 'degraded', 'down', 'unknown')),
    ok          boolean NOT NULL,
    response_ms double precision,
    message     text,
    metrics     jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (service, ts)
);
CREATE INDEX probe_samples_ts ON ops.probe_samples USING brin (ts);

-- Hourly and daily rollups of probe samples, for 7- and 30-day views.
CREATE TABLE ops.probe_rollups (
    grain       text NOT NULL CHECK (grain IN ('hour', 'day')),
    service     text NOT NULL,
    bucket      timestamptz NOT NULL,
    samples     integer NOT NULL,
    failures    integer NOT NULL,
    avg_ms      double precision,
    max_ms      double precision,
    p95_ms      double precision,
    PRIMARY KEY (grain, bucket, service)
);

-- Host capacity: disk (total and per configured data directory), memory and load.
CREATE TABLE ops.capacity_samples (
    ts      timestamptz PRIMARY KEY,
    disk    jsonb NOT NULL,
    memory  jsonb NOT NULL,
    load    jsonb NOT NULL
);

-- API performance per minute and route group, from the nginx access log. Latency is kept as
-- a fixed-bucket histogram (bounds in code) so minutes add up into hours and days and
-- percentiles can still be read from the sum.
CREATE TABLE ops.api_minutes (
    minute          timestamptz NOT NULL,
    route_group     text NOT NULL,
    requests        integer NOT NULL,
    errors          integer NOT NULL,           -- 5xx
    client_errors   integer NOT NULL,           -- 4xx
    auth_failures   integer NOT NULL,           -- 401 and 403
    latency_sum_ms  double precision NOT NULL,
    latency_hist    integer[] NOT NULL,
    PRIMARY KEY (minute, route_group)
);

CREATE TABLE ops.api_rollups (
    grain           text NOT NULL CHECK (grain IN ('hour', 'day')),
    bucket          timestamptz NOT NULL,
    route_group     text NOT NULL,
    requests        bigint NOT NULL,
    errors          bigint NOT NULL,
    client_errors   bigint NOT NULL,
    auth_failures   bigint NOT NULL,
    latency_sum_ms  double precision NOT NULL,
    latency_hist    bigint[] NOT NULL,
    PRIMARY KEY (grain, bucket, route_group)
);

-- Where the access-log tail stopped, so a restarted monitor neither re-counts nor skips.
CREATE TABLE ops.access_log_cursor (
    path        text PRIMARY KEY,
    device      bigint NOT NULL,
    inode       bigint NOT NULL,
    byte_offset bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Alerts: which service, the value and the threshold, and the acknowledgement's note.
ALTER TABLE ops.alerts
    ADD COLUMN service   text,
    ADD COLUMN value     double precision,
    ADD COLUMN threshold double precision,
    ADD COLUMN ack_note  text;

-- Every state change of an alert, in order.
CREATE TABLE ops.alert_history (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id bigint NOT NULL REFERENCES ops.alerts (id) ON DELETE CASCADE,
    ts       timestamptz NOT NULL DEFAULT now(),
    event    text NOT NULL CHECK (event IN ('fired', 'refired', 'acknowledged', 'resolved')),
    actor    text,
    note     text
);
CREATE INDEX alert_history_alert ON ops.alert_history (alert_id, ts);

-- Silences: while one matches (by rule and/or service) and has not ended, a firing alert is
-- recorded but not notified.
CREATE TABLE ops.alert_silences (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule       text,
    service    text,
    ends_at    timestamptz NOT NULL,
    reason     text NOT NULL DEFAULT '',
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (rule IS NOT NULL OR service IS NOT NULL)
);
CREATE INDEX alert_silences_ends ON ops.alert_silences (ends_at);

-- Hysteresis per alert key (rule + subject), persisted so that a standby monitor that takes
-- over continues where the active one stopped.
CREATE TABLE ops.alert_rule_state (
    key           text PRIMARY KEY,
    rule          text NOT NULL,
    recent        text NOT NULL DEFAULT '',   -- last outcomes, newest last: 'F' breach, 'O' ok
    successes     integer NOT NULL DEFAULT 0, -- consecutive
    alert_id      bigint,                     -- the open alert this key raised, if any
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Notifications to send (Discord). A row is claimed atomically (claimed_by, claim_until) by
-- one monitor, retried with backoff, and marked sent exactly once. `webhook` is a hash of the
-- URL (the URL holds a secret and never enters the database).
CREATE TABLE ops.notification_outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel         text NOT NULL DEFAULT 'discord',
    webhook         text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('alert', 'resolved', 'digest', 'test')),
    dedupe_key      text UNIQUE,
    payload         jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    claimed_by      text,
    claim_until     timestamptz,
    sent_at         timestamptz,
    last_status     integer,
    last_error      text
);
CREATE INDEX notification_outbox_due ON ops.notification_outbox (next_attempt_at) WHERE sent_at IS NULL;
CREATE INDEX notification_outbox_created ON ops.notification_outbox USING brin (created_at);

-- Per-webhook rate-limit state from Discord's X-RateLimit-* headers and 429 retry_after.
CREATE TABLE ops.webhook_limits (
    webhook       text PRIMARY KEY,
    blocked_until timestamptz,
    remaining     integer,
    reset_at      timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Monitor processes: which one holds the lock, when each started and last beat.
CREATE TABLE ops.monitor_instances (
    instance     text PRIMARY KEY,
    pid          integer NOT NULL,
    host         text NOT NULL,
    active       boolean NOT NULL,
    started_at   timestamptz NOT NULL,
    heartbeat_at timestamptz NOT NULL,
    version      text NOT NULL DEFAULT ''
);

-- Errors the monitor saw (probe failures, failed deliveries, log-tail problems), for
-- /operator/system/errors.
CREATE TABLE ops.system_errors (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ts      timestamptz NOT NULL DEFAULT now(),
    service text NOT NULL,
    type    text NOT NULL,
    message text NOT NULL
);
CREATE INDEX system_errors_ts ON ops.system_errors USING brin (ts);

-- Small key/value state of the monitor (last digest day sent, ...).
CREATE TABLE ops.monitor_state (
    key        text PRIMARY KEY,
    value      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
