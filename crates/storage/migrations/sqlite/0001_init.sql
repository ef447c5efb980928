-- Switchboard schema, version 1: accounts, their bots' tokens, what bots collect, and the event log.
-- Times are Unix milliseconds (INTEGER), so ordering is exact and cheap.

CREATE TABLE facebook_accounts (
    id                 INTEGER PRIMARY KEY,
    user_id_chat       TEXT    NOT NULL UNIQUE,
    name               TEXT    NOT NULL DEFAULT '',
    kind               TEXT    NOT NULL DEFAULT 'page' CHECK (kind IN ('personal', 'page')),
    enabled            INTEGER NOT NULL DEFAULT 1,
    bot_status         TEXT    NOT NULL DEFAULT 'offline',
    bot_status_message TEXT    NOT NULL DEFAULT '',
    bot_name           TEXT    NOT NULL DEFAULT '',
    bot_version        TEXT    NOT NULL DEFAULT '',
    bot_driver         TEXT    NOT NULL DEFAULT '',
    bot_seen_at        INTEGER,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);

-- Bearer tokens: one row per bot or integrator token. Only the SHA-256 of the token is kept.
CREATE TABLE auth_tokens (
    id           INTEGER PRIMARY KEY,
    kind         TEXT    NOT NULL CHECK (kind IN ('bot', 'api')),
    name         TEXT    NOT NULL DEFAULT '',
    account_id   INTEGER REFERENCES facebook_accounts (id) ON DELETE CASCADE,
    token_hash   TEXT    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    CHECK ((kind = 'bot') = (account_id IS NOT NULL))
);

CREATE TABLE conversations (
    id                     INTEGER PRIMARY KEY,
    account_id             INTEGER NOT NULL REFERENCES facebook_accounts (id) ON DELETE CASCADE,
    thread_id              TEXT    NOT NULL,
    participant_id         TEXT    NOT NULL,
    participant_name       TEXT    NOT NULL DEFAULT '',
    last_message_text      TEXT    NOT NULL DEFAULT '',
    last_message_direction TEXT,
    last_message_at        INTEGER,
    unread_count           INTEGER NOT NULL DEFAULT 0,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL,
    UNIQUE (account_id, thread_id)
);
CREATE INDEX conversations_by_recency ON conversations (account_id, last_message_at DESC);

CREATE TABLE messages (
    id                  INTEGER PRIMARY KEY,
    account_id          INTEGER NOT NULL REFERENCES facebook_accounts (id) ON DELETE CASCADE,
    conversation_id     INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    platform_message_id TEXT    NOT NULL,
    direction           TEXT    NOT NULL CHECK (direction IN ('in', 'out')),
    text                TEXT    NOT NULL DEFAULT '',
    attachments         TEXT    NOT NULL DEFAULT '[]',
    status              TEXT    NOT NULL DEFAULT 'received',
    error               TEXT,
    sent_at             INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    UNIQUE (account_id, platform_message_id)
);
CREATE INDEX messages_by_conversation ON messages (conversation_id, sent_at DESC, id DESC);

CREATE TABLE notifications (
    id                       INTEGER PRIMARY KEY,
    account_id               INTEGER NOT NULL REFERENCES facebook_accounts (id) ON DELETE CASCADE,
    platform_notification_id TEXT    NOT NULL,
    kind                     TEXT    NOT NULL,
    text                     TEXT    NOT NULL DEFAULT '',
    link                     TEXT,
    occurred_at              INTEGER NOT NULL,
    read_at                  INTEGER,
    created_at               INTEGER NOT NULL,
    UNIQUE (account_id, platform_notification_id)
);
CREATE INDEX notifications_by_recency ON notifications (account_id, occurred_at DESC);

-- Posts an agent asks a bot to publish (the sender role fills this table).
CREATE TABLE posts (
    id               INTEGER PRIMARY KEY,
    account_id       INTEGER NOT NULL REFERENCES facebook_accounts (id) ON DELETE CASCADE,
    content          TEXT    NOT NULL,
    status           TEXT    NOT NULL DEFAULT 'queued',
    platform_post_id TEXT,
    error            TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);

-- The event log. AUTOINCREMENT: an id is never reused, even after old events are pruned, so a
-- client's "last event id" always means the same point in history.
CREATE TABLE events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT    NOT NULL,
    account_id INTEGER REFERENCES facebook_accounts (id) ON DELETE SET NULL,
    account    TEXT,
    payload    TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
