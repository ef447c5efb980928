-- Version 13 (SQLite), in step with postgres/0013_canned_responses.sql: replies agents insert by
-- typing `/shortcut` in the composer, with variables the console fills in.
CREATE TABLE canned_responses (
    id         INTEGER PRIMARY KEY,
    shortcut   TEXT    NOT NULL UNIQUE,
    text       TEXT    NOT NULL,
    created_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
