-- A bot's own durable state, one file per account, beside the bot (not in the CRM's database).

-- What the driver collected and the receiver has not yet confirmed, in the order it was collected.
CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT    NOT NULL CHECK (kind IN ('messages', 'notifications', 'status')),
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

-- Items the receiver refused as invalid (a 4xx): kept for a person to look at, never silently dropped.
CREATE TABLE rejected (
    id          INTEGER PRIMARY KEY,
    kind        TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    rejected_at INTEGER NOT NULL
);

-- Every command the sender handed over: executed at most once, its outcome reported until confirmed.
CREATE TABLE commands (
    command_id    TEXT    PRIMARY KEY,
    event         TEXT    NOT NULL,
    payload       TEXT    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('received', 'executing', 'finished')),
    outcome_event TEXT,
    outcome       TEXT,
    reported      INTEGER NOT NULL DEFAULT 0,
    received_at   INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX commands_by_state ON commands (state, received_at);
CREATE INDEX commands_unreported ON commands (reported, state);

-- When each customer last wrote: Messenger's messaging window is counted from it.
CREATE TABLE customers (
    customer_id   TEXT    PRIMARY KEY,
    last_wrote_at INTEGER NOT NULL
);

-- Small driver settings that must survive a restart (the backfill watermark).
CREATE TABLE driver_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
