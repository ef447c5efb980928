-- Version 12 (SQLite), in step with postgres/0012_team_inbox.sql: the team inbox. A conversation has
-- an owner (a user, or none: the queue), a status, and labels; agents leave private notes on it.

ALTER TABLE conversations ADD COLUMN status TEXT NOT NULL DEFAULT 'open'
    CHECK (status IN ('open', 'pending', 'snoozed', 'resolved'));
ALTER TABLE conversations ADD COLUMN assignee_user_id INTEGER REFERENCES users (id) ON DELETE SET NULL;
-- Set exactly while the status is 'snoozed'.
ALTER TABLE conversations ADD COLUMN snoozed_until INTEGER;
-- The names of its labels as a JSON array, kept with the row so that lists and the ingest's events
-- carry them without a join; conversation_labels is the truth that filters use.
ALTER TABLE conversations ADD COLUMN labels TEXT NOT NULL DEFAULT '[]';

CREATE INDEX conversations_by_assignee ON conversations (assignee_user_id, last_message_at DESC);
CREATE INDEX conversations_by_status ON conversations (status, last_message_at DESC);
CREATE INDEX conversations_snoozed ON conversations (snoozed_until) WHERE status = 'snoozed';

-- `name_key` is the name in lowercase (Rust's, which folds Vietnamese letters too): names are unique
-- whatever their case.
CREATE TABLE labels (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    name_key   TEXT    NOT NULL UNIQUE,
    color      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE conversation_labels (
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    label_id        INTEGER NOT NULL REFERENCES labels (id) ON DELETE CASCADE,
    PRIMARY KEY (conversation_id, label_id)
);
CREATE INDEX conversation_labels_by_label ON conversation_labels (label_id, conversation_id);

-- Private notes: seen by the team, never sent to the customer or to a bot.
CREATE TABLE conversation_notes (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    author_user_id  INTEGER REFERENCES users (id) ON DELETE SET NULL,
    text            TEXT    NOT NULL,
    -- The ids of the users it mentions, a JSON array.
    mentions        TEXT    NOT NULL DEFAULT '[]',
    created_at      INTEGER NOT NULL
);
CREATE INDEX conversation_notes_by_conversation ON conversation_notes (conversation_id, id);
