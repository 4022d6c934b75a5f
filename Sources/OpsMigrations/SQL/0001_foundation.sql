-- Foundation: the ops schema and API tokens.
-- (ops.schema_migrations itself is created by the migration runner before any file runs.)

CREATE SCHEMA IF NOT EXISTS ops;

-- API tokens are stored only as SHA-256 hashes; the token itself is shown once at creation.
CREATE TABLE ops.api_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    role         text        NOT NULL CHECK (role IN ('admin', 'viewer', 'ingest')),
    token_sha256 bytea       NOT NULL UNIQUE CHECK (length(token_sha256) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    expires_at   timestamptz,
    revoked_at   timestamptz
);
-- Names identify live tokens for people (`token revoke NAME`); revoked ones may reuse a name.
CREATE UNIQUE INDEX api_tokens_live_name ON ops.api_tokens (name) WHERE revoked_at IS NULL;
