-- LLM Cluster storage schema, version 1 (SQLite).
-- Keep in step with migrations/postgres/0001_initial.sql: same tables, columns,
-- constraints and indexes. Times are fixed-width ISO-8601 UTC text
-- ("2025-01-31T12:00:00.000000+00:00"), so text order is time order.
-- Booleans are INTEGER 0/1. Deleting a group cascades to its memberships, API keys
-- and nodes (needs PRAGMA foreign_keys=ON, set on every connection); usage keeps ids.

CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    is_operator INTEGER NOT NULL DEFAULT 0 CHECK (is_operator IN (0, 1)),
    created_at  TEXT NOT NULL
);

CREATE TABLE groups (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);

CREATE TABLE memberships (
    group_id   TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at TEXT NOT NULL,
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
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);
CREATE INDEX api_keys_group ON api_keys (group_id);
CREATE INDEX api_keys_user ON api_keys (user_id);

CREATE TABLE nodes (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    group_id   TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
-- A name is unique within a group among live nodes; a revoked name can be reused.
CREATE UNIQUE INDEX nodes_live_name ON nodes (group_id, name) WHERE revoked_at IS NULL;
CREATE INDEX nodes_user ON nodes (user_id);

-- No foreign keys: usage history outlives the keys, users, groups and nodes it names.
CREATE TABLE usage (
    request_id        TEXT PRIMARY KEY,
    time              TEXT NOT NULL,
    key_id            TEXT,
    user_id           TEXT,
    group_id          TEXT,
    node_id           TEXT,
    model             TEXT NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    ttft_ms           REAL,
    duration_ms       REAL NOT NULL,
    status            INTEGER NOT NULL,
    error_code        TEXT,
    estimated         INTEGER NOT NULL DEFAULT 0 CHECK (estimated IN (0, 1))
);
CREATE INDEX usage_time ON usage (time);
CREATE INDEX usage_group_time ON usage (group_id, time);

CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    time   TEXT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);

CREATE TABLE relay_secrets (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
