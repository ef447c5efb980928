-- Version 17: files agents attach to replies. Kept in the database, like everything else, so that
-- every node serves them and a backup or `db copy` takes them along. A file is uploaded first
-- (`message_id` NULL), then sent with a reply, which ties it to the message for good.
CREATE TABLE attachments (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('image', 'file')),
    content_type TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    bytes        BLOB    NOT NULL,
    uploaded_by  INTEGER REFERENCES users (id) ON DELETE SET NULL,
    message_id   INTEGER REFERENCES messages (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL
);
CREATE INDEX attachments_by_message ON attachments (message_id);
CREATE INDEX attachments_unsent ON attachments (created_at) WHERE message_id IS NULL;
