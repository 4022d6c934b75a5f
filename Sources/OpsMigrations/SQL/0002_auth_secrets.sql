-- Secrets the workers share, created on first use (the session-cookie HMAC key when
-- OPS_SESSION_SECRET is not set). Only Opsplane's own role reads this table.
CREATE TABLE ops.secrets (
    name       text PRIMARY KEY,
    value      bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
