-- Version 2: agents and their sessions, account credentials (encrypted), posts by agents, and the
-- durable commands the sender hands to bots.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    display_name  TEXT    NOT NULL DEFAULT '',
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'supervisor', 'agent')),
    password_hash TEXT    NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

-- Login sessions. Like tokens, only the SHA-256 of the session secret is kept.
CREATE TABLE sessions (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  TEXT    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

-- Who made an integrator's API token.
ALTER TABLE auth_tokens ADD COLUMN created_by INTEGER REFERENCES users (id) ON DELETE SET NULL;

-- Credentials, each encrypted on its own (XChaCha20-Poly1305: 24-byte nonce, then ciphertext and tag).
ALTER TABLE facebook_accounts ADD COLUMN password_enc BLOB;
ALTER TABLE facebook_accounts ADD COLUMN cookies_enc BLOB;
ALTER TABLE facebook_accounts ADD COLUMN two_factor_secret_enc BLOB;
ALTER TABLE facebook_accounts ADD COLUMN page_access_token_enc BLOB;

-- Server-wide settings, e.g. a value encrypted with the key, to tell a wrong key from the right one.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

ALTER TABLE messages ADD COLUMN author_user_id INTEGER REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE posts ADD COLUMN author_user_id INTEGER REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE posts ADD COLUMN link TEXT;
CREATE INDEX posts_by_recency ON posts (account_id, id DESC);

-- A command for a bot. Stored before the API answers, delivered while the bot is connected and again
-- after each reconnect until the bot acknowledges it; `command_id` is what the bot deduplicates on.
CREATE TABLE commands (
    id           INTEGER PRIMARY KEY,
    command_id   TEXT    NOT NULL UNIQUE,
    account_id   INTEGER NOT NULL REFERENCES facebook_accounts (id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL CHECK (kind IN ('send_message', 'post_news_feed')),
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
CREATE INDEX commands_to_deliver ON commands (account_id, id) WHERE status IN ('pending', 'delivered');
