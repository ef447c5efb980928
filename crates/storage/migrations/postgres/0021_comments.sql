-- Version 21 (PostgreSQL), in step with sqlite/0021_comments.sql: comments under a page's posts.
CREATE TABLE comments (
    message_id BIGINT  PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    post_id    TEXT    NOT NULL,
    parent_id  TEXT,
    hidden     BOOLEAN NOT NULL DEFAULT FALSE,
    deleted    BOOLEAN NOT NULL DEFAULT FALSE,
    pending    TEXT    CHECK (pending IN ('hide', 'unhide', 'delete')),
    error      TEXT
);

CREATE TABLE feed_posts (
    account_id BIGINT NOT NULL REFERENCES facebook_accounts (id) ON DELETE CASCADE,
    post_id    TEXT   NOT NULL,
    text       TEXT   NOT NULL DEFAULT '',
    picture    TEXT,
    permalink  TEXT,
    created_at BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, post_id)
);

ALTER TABLE facebook_accounts ADD COLUMN hide_phone_comments BOOLEAN NOT NULL DEFAULT FALSE;

ALTER TABLE commands DROP CONSTRAINT commands_kind_check;
ALTER TABLE commands ADD CONSTRAINT commands_kind_check
    CHECK (kind IN ('send_message', 'post_news_feed', 'reply_comment', 'moderate_comment', 'private_reply'));
