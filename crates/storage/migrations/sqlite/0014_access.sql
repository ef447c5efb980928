-- Version 14: who may see which account. Teams group users; an account an admin restricted is seen
-- through its access list only (users and teams on it), by admins, and by unscoped API tokens. The
-- `restricted` flag, not the list's rows, says whether a list applies: deleting the last team on a list
-- must not open the account to everyone.

CREATE TABLE teams (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    -- The name in lowercase: names are unique whatever their case.
    name_key   TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE team_members (
    team_id INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_by_user ON team_members (user_id, team_id);

ALTER TABLE facebook_accounts ADD COLUMN restricted INTEGER NOT NULL DEFAULT 0;

CREATE TABLE account_access (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES facebook_accounts (id) ON DELETE CASCADE,
    user_id    INTEGER REFERENCES users (id) ON DELETE CASCADE,
    team_id    INTEGER REFERENCES teams (id) ON DELETE CASCADE,
    CHECK ((user_id IS NULL) <> (team_id IS NULL))
);
CREATE UNIQUE INDEX account_access_by_user ON account_access (account_id, user_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX account_access_by_team ON account_access (account_id, team_id) WHERE team_id IS NOT NULL;

-- API tokens issued for some accounts only. Like `restricted`, `scoped` says a list applies even when
-- its accounts have since been deleted.
ALTER TABLE auth_tokens ADD COLUMN scoped INTEGER NOT NULL DEFAULT 0;
CREATE TABLE token_accounts (
    token_id   INTEGER NOT NULL REFERENCES auth_tokens (id) ON DELETE CASCADE,
    account_id INTEGER NOT NULL REFERENCES facebook_accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (token_id, account_id)
);
