-- Nothing lives in one process only. The due moment of each ring and wrap-up timer is stored, so that
-- any call-center node fires it when the node that started it died; a bot's presence is its
-- connections on every sender node, each node heartbeating, so that a bot reconnecting through
-- another node stays online and a dead node's connections are forgotten.
ALTER TABLE calls ADD COLUMN ring_due_at INTEGER;
ALTER TABLE agents ADD COLUMN wrap_up_due_at INTEGER;
-- Offers ringing and wrap-ups running when this version starts keep the default ring timeout and end
-- at once, as a restart of the earlier versions did.
UPDATE calls SET ring_due_at = COALESCE(offered_at, started_at) + 20000
    WHERE status = 'ringing' AND direction = 'in' AND offered_agent_id IS NOT NULL;
UPDATE agents SET wrap_up_due_at = updated_at WHERE state = 'wrap_up';
CREATE INDEX calls_by_ring_due ON calls (ring_due_at) WHERE ring_due_at IS NOT NULL;
CREATE INDEX agents_by_wrap_up_due ON agents (wrap_up_due_at) WHERE wrap_up_due_at IS NOT NULL;

CREATE TABLE sender_nodes (
    node_id      TEXT    PRIMARY KEY,
    heartbeat_at INTEGER NOT NULL
);
CREATE TABLE bot_connections (
    node_id    TEXT    NOT NULL REFERENCES sender_nodes (node_id) ON DELETE CASCADE,
    account_id INTEGER NOT NULL REFERENCES facebook_accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (account_id, node_id)
);
CREATE INDEX bot_connections_by_node ON bot_connections (node_id);
