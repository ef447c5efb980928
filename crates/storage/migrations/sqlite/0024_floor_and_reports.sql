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

CREATE INDEX calls_for_reports ON calls
    (started_at, direction, status, queue, answered_by, offered_agent_id, answered_at, ended_at);

-- Each agent's open conversations, counted for the floor without reading their closed ones.
CREATE INDEX conversations_open_by_assignee ON conversations (assignee_user_id) WHERE status = 'open';
