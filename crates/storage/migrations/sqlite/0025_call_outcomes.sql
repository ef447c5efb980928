-- Version 25: what came of each call. The outcome codes admins set (a code never changes and is
-- retired rather than deleted, so calls keep it), the code, note, author and moment an agent records
-- on a call, and the recording the phone system reports on hangup. No codes at first: the list is the
-- business's (the demo sets some).
CREATE TABLE call_outcome_codes (
    id         INTEGER PRIMARY KEY,
    code       TEXT    NOT NULL UNIQUE,
    label      TEXT    NOT NULL,
    position   INTEGER NOT NULL DEFAULT 0,
    active     INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL
);

ALTER TABLE calls ADD COLUMN outcome_code TEXT;
ALTER TABLE calls ADD COLUMN outcome_note TEXT NOT NULL DEFAULT '';
ALTER TABLE calls ADD COLUMN outcome_by_user_id INTEGER REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE calls ADD COLUMN outcome_at INTEGER;
ALTER TABLE calls ADD COLUMN recording_url TEXT;
