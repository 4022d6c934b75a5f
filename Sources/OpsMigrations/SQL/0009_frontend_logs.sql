-- Browser error reports (POST /api/ops/frontend-log): a ring buffer of the last 500 reports
-- per page route, written in place (FIELD-NOTES: fixed slots, a counter row per route,
-- fillfactor 70 so slot rewrites stay HOT, no index on time).

-- One row per route template: how many reports were written and how many were overwritten.
CREATE TABLE ops.frontend_log_routes (
    route    text PRIMARY KEY,
    written  bigint NOT NULL DEFAULT 0,
    evicted  bigint NOT NULL DEFAULT 0
);

CREATE TABLE ops.frontend_logs (
    route        text NOT NULL,
    slot         integer NOT NULL,
    seq          bigint NOT NULL,                -- the route's report number (written counter)
    received_at  timestamptz NOT NULL,
    ts           timestamptz,                    -- the browser's clock
    fingerprint  text NOT NULL,
    message      text NOT NULL,
    error_type   text,
    source       text,
    stack        text,
    build_hash   text,
    browser      text,
    ws_state     text,
    breadcrumbs  jsonb,
    PRIMARY KEY (route, slot)
) WITH (fillfactor = 70);

-- Refused or throttled reports, by reason (too_large, invalid_json, fingerprint_rate, ...).
CREATE TABLE ops.frontend_log_drops (
    reason   text PRIMARY KEY,
    count    bigint NOT NULL DEFAULT 0,
    last_at  timestamptz NOT NULL DEFAULT now()
);

-- Per-fingerprint budget per minute, so one error storm cannot flush a route's buffer.
CREATE TABLE ops.frontend_fingerprint_rate (
    fingerprint  text PRIMARY KEY,
    minute       timestamptz NOT NULL,
    count        integer NOT NULL
) WITH (fillfactor = 70);
