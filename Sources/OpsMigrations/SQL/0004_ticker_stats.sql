-- The ticker's counters, one row per ticker process (instance), written every few seconds,
-- read by the monitoring endpoints.
CREATE TABLE ops.ticker_stats (
    instance          text PRIMARY KEY,
    pid               integer NOT NULL,
    clients           integer NOT NULL,
    subscribers       integer NOT NULL,
    frames_sent       bigint NOT NULL,
    frames_dropped    bigint NOT NULL,
    slow_disconnects  bigint NOT NULL,
    last_event_id     bigint NOT NULL,
    last_event_lag_ms bigint NOT NULL,
    db_reconnects     integer NOT NULL,
    updated_at        timestamptz NOT NULL
);
