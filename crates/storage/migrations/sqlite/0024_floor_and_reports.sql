-- Version 24: what the live floor and the reports read. When each agent's state last changed (time in
-- state), how many offers in a row rang out at them (max-no-answer sets them away), every offer that
-- rang out (ring-outs per agent and queue), and an index from which a report sums a period's calls
-- without reading the table.
ALTER TABLE agents ADD COLUMN state_since INTEGER;
UPDATE agents SET state_since = updated_at;
ALTER TABLE agents ADD COLUMN ring_outs_in_row INTEGER NOT NULL DEFAULT 0;

CREATE TABLE ring_outs (
    id       INTEGER PRIMARY KEY,
    call_id  TEXT    NOT NULL,
    agent_id INTEGER REFERENCES agents (id) ON DELETE SET NULL,
    queue    TEXT,
    rang_at  INTEGER NOT NULL
);
CREATE INDEX ring_outs_by_time ON ring_outs (rang_at);

-- The calls not ended: few, whatever the history. The floor and today's figures find them here.
CREATE INDEX calls_not_ended ON calls (started_at) WHERE status <> 'ended';

CREATE INDEX calls_for_reports ON calls
    (started_at, direction, status, queue, answered_by, offered_agent_id, answered_at, ended_at);

-- Each agent's open conversations, counted for the floor without reading their closed ones.
CREATE INDEX conversations_open_by_assignee ON conversations (assignee_user_id) WHERE status = 'open';

-- Finished calls summed per local day of the business, queue ('' for none) and agent (0 for none),
-- written in the transaction that ends each call (and rings out each offer): a report over a year
-- reads at most days x queues x agents rows, not every call. The day and the service level's
-- thresholds are those of the settings row 'call_stats_rules'; when they change the table is rebuilt
-- from the calls. No foreign key: an agent's history outlives them.
CREATE TABLE call_stats (
    day              TEXT   NOT NULL,
    queue            TEXT   NOT NULL DEFAULT '',
    agent_id         INTEGER NOT NULL DEFAULT 0,
    offered          INTEGER NOT NULL DEFAULT 0,
    answered         INTEGER NOT NULL DEFAULT 0,
    abandoned        INTEGER NOT NULL DEFAULT 0,
    short_abandoned  INTEGER NOT NULL DEFAULT 0,
    answered_in_time INTEGER NOT NULL DEFAULT 0,
    answer_millis    INTEGER NOT NULL DEFAULT 0,
    handled          INTEGER NOT NULL DEFAULT 0,
    handle_millis    INTEGER NOT NULL DEFAULT 0,
    ring_outs        INTEGER NOT NULL DEFAULT 0,
    outbound         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, queue, agent_id)
);
