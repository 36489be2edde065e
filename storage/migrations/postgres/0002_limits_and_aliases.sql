-- LLM Cluster storage schema, version 2 (PostgreSQL): rate limits and model aliases.
-- Keep in step with migrations/sqlite/0002_limits_and_aliases.sql.
-- Deleting a group deletes its limits and aliases.

-- One row per (group, scope, subject). scope 'group' and 'default' name the group itself
-- as subject; 'user' a user id; 'key' an API key id. NULL means "not set".
CREATE TABLE rate_limits (
    group_id       TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    scope          TEXT NOT NULL CHECK (scope IN ('group', 'default', 'user', 'key')),
    subject_id     TEXT NOT NULL,
    rpm            INTEGER CHECK (rpm IS NULL OR rpm > 0),
    tpm            INTEGER CHECK (tpm IS NULL OR tpm > 0),
    max_concurrent INTEGER CHECK (max_concurrent IS NULL OR max_concurrent > 0),
    updated_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (group_id, scope, subject_id)
);

-- A group's name for backend models; targets is a JSON array of model names (kept as
-- TEXT, like SQLite, so both backends store the same bytes).
CREATE TABLE model_aliases (
    group_id   TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    alias      TEXT NOT NULL,
    targets    TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (group_id, alias)
);
