-- Version 21: comments under a page's posts. Each customer's comments under a post are a conversation
-- (thread `comments:<post>:<author>`, domain::comments::thread_of), each comment a message of it; this
-- table keeps what a comment has that a message has not.
CREATE TABLE comments (
    message_id INTEGER PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    post_id    TEXT    NOT NULL,
    -- The platform id of the comment it answers.
    parent_id  TEXT,
    hidden     INTEGER NOT NULL DEFAULT 0,
    deleted    INTEGER NOT NULL DEFAULT 0,
    -- A moderation asked of the bot and not yet done (domain::comments::Moderation), or why it failed.
    pending    TEXT    CHECK (pending IN ('hide', 'unhide', 'delete')),
    error      TEXT
);

-- What a post says, shown above its comments; filled by the bots when they know it.
CREATE TABLE feed_posts (
    account_id INTEGER NOT NULL REFERENCES facebook_accounts (id) ON DELETE CASCADE,
    post_id    TEXT    NOT NULL,
    text       TEXT    NOT NULL DEFAULT '',
    picture    TEXT,
    permalink  TEXT,
    created_at INTEGER,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, post_id)
);

-- Per page: hide every comment that holds a phone number (competitors read them too).
ALTER TABLE facebook_accounts ADD COLUMN hide_phone_comments INTEGER NOT NULL DEFAULT 0;

-- The commands bots take now include the comments' (SQLite changes a CHECK by rebuilding the table).
CREATE TABLE commands_v21 (
    id           INTEGER PRIMARY KEY,
    command_id   TEXT    NOT NULL UNIQUE,
    account_id   INTEGER NOT NULL REFERENCES facebook_accounts (id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL CHECK (kind IN ('send_message', 'post_news_feed', 'reply_comment', 'moderate_comment', 'private_reply')),
    payload      TEXT    NOT NULL,
    message_id   INTEGER REFERENCES messages (id) ON DELETE CASCADE,
    post_id      INTEGER REFERENCES posts (id) ON DELETE CASCADE,
    status       TEXT    NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'delivered', 'acknowledged', 'done', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    error        TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
INSERT INTO commands_v21 SELECT id, command_id, account_id, kind, payload, message_id, post_id, status, attempts, error, created_at, updated_at FROM commands;
DROP TABLE commands;
ALTER TABLE commands_v21 RENAME TO commands;
CREATE INDEX commands_to_deliver ON commands (account_id, id) WHERE status IN ('pending', 'delivered');
CREATE INDEX commands_by_message ON commands (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX commands_by_post ON commands (post_id) WHERE post_id IS NOT NULL;
