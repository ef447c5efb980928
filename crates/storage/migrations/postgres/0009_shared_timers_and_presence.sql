-- Version 9 (PostgreSQL), in step with sqlite/0009_shared_timers_and_presence.sql: the due moments of
-- ring and wrap-up timers, stored so that any call-center node fires them; bots' connections per
-- sender node, with each node's heartbeat.
ALTER TABLE calls ADD COLUMN ring_due_at BIGINT;
ALTER TABLE agents ADD COLUMN wrap_up_due_at BIGINT;
UPDATE calls SET ring_due_at = COALESCE(offered_at, started_at) + 20000
    WHERE status = 'ringing' AND direction = 'in' AND offered_agent_id IS NOT NULL;
UPDATE agents SET wrap_up_due_at = updated_at WHERE state = 'wrap_up';
CREATE INDEX calls_by_ring_due ON calls (ring_due_at) WHERE ring_due_at IS NOT NULL;
CREATE INDEX agents_by_wrap_up_due ON agents (wrap_up_due_at) WHERE wrap_up_due_at IS NOT NULL;

CREATE TABLE sender_nodes (
    node_id      TEXT   PRIMARY KEY,
    heartbeat_at BIGINT NOT NULL
);
CREATE TABLE bot_connections (
    node_id    TEXT   NOT NULL REFERENCES sender_nodes (node_id) ON DELETE CASCADE,
    account_id BIGINT NOT NULL REFERENCES facebook_accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (account_id, node_id)
);
CREATE INDEX bot_connections_by_node ON bot_connections (node_id);
