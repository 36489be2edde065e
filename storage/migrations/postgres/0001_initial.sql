-- LLM Cluster storage schema, version 1 (PostgreSQL).
-- Keep in step with migrations/sqlite/0001_initial.sql: same tables, columns,
-- constraints and indexes. Times are TIMESTAMPTZ. Deleting a group cascades to its
-- memberships, API keys and nodes; usage keeps ids.

CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    is_operator BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE groups (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE memberships (
    group_id   TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    prefix       TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_id     TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX api_keys_group ON api_keys (group_id);
CREATE INDEX api_keys_user ON api_keys (user_id);

CREATE TABLE nodes (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    group_id   TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);
-- A name is unique within a group among live nodes; a revoked name can be reused.
CREATE UNIQUE INDEX nodes_live_name ON nodes (group_id, name) WHERE revoked_at IS NULL;
CREATE INDEX nodes_user ON nodes (user_id);

-- No foreign keys: usage history outlives the keys, users, groups and nodes it names.
CREATE TABLE usage (
    request_id        TEXT PRIMARY KEY,
    time              TIMESTAMPTZ NOT NULL,
    key_id            TEXT,
    user_id           TEXT,
    group_id          TEXT,
    node_id           TEXT,
    model             TEXT NOT NULL,
    prompt_tokens     BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    ttft_ms           DOUBLE PRECISION,
    duration_ms       DOUBLE PRECISION NOT NULL,
    status            INTEGER NOT NULL,
    error_code        TEXT,
    estimated         BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX usage_time ON usage (time);
CREATE INDEX usage_group_time ON usage (group_id, time);

CREATE TABLE audit_log (
    id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time   TIMESTAMPTZ NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);

CREATE TABLE relay_secrets (
    name  TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);
