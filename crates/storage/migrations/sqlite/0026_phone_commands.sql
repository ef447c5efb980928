-- Version 26: what the call center asks of the phone system (connect, drop, dial, transfer), stored
-- before it is sent and retried until the phone system takes it: a command pending when a node stops
-- is sent by the next node to look. A node claims a due command by moving its next attempt past the
-- time a send may take, so two nodes do not send it at once.
CREATE TABLE phone_commands (
    id                   INTEGER PRIMARY KEY,
    kind                 TEXT    NOT NULL CHECK (kind IN ('answer', 'reject', 'hangup', 'dial', 'transfer')),
    call_id              TEXT,
    body                 TEXT    NOT NULL,
    status               TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts             INTEGER NOT NULL DEFAULT 0,
    next_attempt_at      INTEGER NOT NULL,
    last_error           TEXT,
    agent_id             INTEGER REFERENCES agents (id) ON DELETE SET NULL,
    requested_by_user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX phone_commands_due ON phone_commands (next_attempt_at) WHERE status = 'pending';
CREATE INDEX phone_commands_by_call ON phone_commands (call_id);

-- The agent a call was with before the phone system reported it answered by another (a transfer).
ALTER TABLE calls ADD COLUMN transferred_from INTEGER REFERENCES agents (id) ON DELETE SET NULL;
