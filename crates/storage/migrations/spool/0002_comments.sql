-- Comments are collected too (the outbox's kinds are a CHECK: SQLite changes one by rebuilding the table).
CREATE TABLE outbox_v2 (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT    NOT NULL CHECK (kind IN ('messages', 'notifications', 'status', 'comments')),
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
INSERT INTO outbox_v2 (id, kind, body, created_at) SELECT id, kind, body, created_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v2 RENAME TO outbox;
