-- Version 4: the call center's agents, calls and blocked numbers.

-- An agent is a console user who takes calls. `status` is theirs (available, busy, away, offline);
-- `state` is the system's (idle, ringing, on_call, wrap_up). `idle_since` orders who waited longest.
CREATE TABLE agents (
    id                INTEGER PRIMARY KEY,
    user_id           INTEGER UNIQUE REFERENCES users (id) ON DELETE SET NULL,
    full_name         TEXT    NOT NULL,
    extension         TEXT    NOT NULL DEFAULT '',
    queues            TEXT    NOT NULL DEFAULT '[]',
    status            TEXT    NOT NULL DEFAULT 'offline' CHECK (status IN ('available', 'busy', 'away', 'offline')),
    state             TEXT    NOT NULL DEFAULT 'idle' CHECK (state IN ('idle', 'ringing', 'on_call', 'wrap_up')),
    idle_since        INTEGER NOT NULL,
    status_changed_at INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);

CREATE TABLE calls (
    id                INTEGER PRIMARY KEY,
    call_id           TEXT    NOT NULL UNIQUE,
    direction         TEXT    NOT NULL DEFAULT 'in' CHECK (direction IN ('in', 'out')),
    caller_number     TEXT    NOT NULL,
    caller_normalized TEXT    NOT NULL,
    called_number     TEXT    NOT NULL DEFAULT '',
    queue             TEXT,
    source            TEXT    NOT NULL DEFAULT '',
    customer_id       INTEGER REFERENCES customers (id) ON DELETE SET NULL,
    status            TEXT    NOT NULL CHECK (status IN ('queued', 'ringing', 'connected', 'ended')),
    offered_agent_id  INTEGER REFERENCES agents (id) ON DELETE SET NULL,
    -- Agents the call rang without an answer, as a JSON array of ids.
    declined_agents   TEXT    NOT NULL DEFAULT '[]',
    answered_by       INTEGER REFERENCES agents (id) ON DELETE SET NULL,
    started_at        INTEGER NOT NULL,
    offered_at        INTEGER,
    answered_at       INTEGER,
    ended_at          INTEGER,
    end_reason        TEXT,
    missed            INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX calls_by_start ON calls (started_at DESC);
CREATE INDEX calls_open ON calls (status, started_at) WHERE status <> 'ended';
CREATE INDEX calls_by_caller ON calls (caller_normalized);

CREATE TABLE blocked_numbers (
    number     TEXT    PRIMARY KEY,
    reason     TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);
