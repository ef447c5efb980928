-- Version 23: every missed inbound call is followed up. A callback task per caller (one open at a time:
-- a repeat call while it is open joins it), assigned round robin among the agents of the call's queue,
-- closed with an outcome and a note.
CREATE TABLE callbacks (
    id                INTEGER PRIMARY KEY,
    -- The caller's number, normalised (domain::phone::normalize), and as the phone system gave it.
    number            TEXT    NOT NULL,
    caller_number     TEXT    NOT NULL,
    -- The missed call it came from, and the last one that joined it.
    call_id           TEXT    NOT NULL,
    last_call_id      TEXT    NOT NULL,
    missed_calls      INTEGER NOT NULL DEFAULT 1,
    queue             TEXT,
    customer_id       INTEGER REFERENCES customers (id) ON DELETE SET NULL,
    assigned_agent_id INTEGER REFERENCES agents (id) ON DELETE SET NULL,
    status            TEXT    NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    outcome           TEXT    CHECK (outcome IN ('reached', 'no_answer', 'wrong_number', 'not_needed')),
    note              TEXT    NOT NULL DEFAULT '',
    closed_by_user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    last_missed_at    INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    closed_at         INTEGER
);
CREATE UNIQUE INDEX callbacks_open_by_number ON callbacks (number) WHERE status = 'open';
CREATE INDEX callbacks_by_status ON callbacks (status, id);
CREATE INDEX callbacks_by_agent ON callbacks (assigned_agent_id) WHERE status = 'open';

-- Round robin: the agent given a callback longest ago is next.
ALTER TABLE agents ADD COLUMN last_callback_at INTEGER;
