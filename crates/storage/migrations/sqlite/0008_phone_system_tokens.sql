-- A kind of token for phone systems: it may post CTI events and read the call center, nothing else
-- (an API token in a PBX's webhook URL could do everything an admin can). SQLite cannot change a CHECK
-- constraint in place, so the table is rebuilt with the same rows and ids.
CREATE TABLE auth_tokens_new (
    id           INTEGER PRIMARY KEY,
    kind         TEXT    NOT NULL CHECK (kind IN ('bot', 'api', 'pbx')),
    name         TEXT    NOT NULL DEFAULT '',
    account_id   INTEGER REFERENCES facebook_accounts (id) ON DELETE CASCADE,
    token_hash   TEXT    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    created_by   INTEGER REFERENCES users (id) ON DELETE SET NULL,
    CHECK ((kind = 'bot') = (account_id IS NOT NULL))
);
INSERT INTO auth_tokens_new (id, kind, name, account_id, token_hash, created_at, revoked_at, created_by)
    SELECT id, kind, name, account_id, token_hash, created_at, revoked_at, created_by FROM auth_tokens;
DROP TABLE auth_tokens;
ALTER TABLE auth_tokens_new RENAME TO auth_tokens;
