-- Version 16 (PostgreSQL), in step with sqlite/0016_auto_assignment.sql: conversations shared out
-- automatically, per account, to online agents (consoles held by live sender nodes).
ALTER TABLE facebook_accounts ADD COLUMN auto_assign BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE facebook_accounts ADD COLUMN assign_limit BIGINT NOT NULL DEFAULT 10;
ALTER TABLE facebook_accounts ADD COLUMN return_when_offline BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN console_left_at BIGINT;
ALTER TABLE users ADD COLUMN auto_assigned_at BIGINT NOT NULL DEFAULT 0;

CREATE TABLE console_connections (
    node_id TEXT   NOT NULL REFERENCES sender_nodes (node_id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, node_id)
);
CREATE INDEX console_connections_by_node ON console_connections (node_id);
CREATE INDEX conversations_waiting ON conversations (account_id, last_message_at, id)
    WHERE assignee_user_id IS NULL AND status = 'open';
