-- Version 16: conversations shared out automatically. Per account: whether new and reopened
-- conversations go to the online agent with the fewest open ones (`auto_assign`), the most open
-- conversations an agent is given (`assign_limit`), and whether an agent who goes offline hands
-- their open ones back to the queue (`return_when_offline`). An agent is online while a sender node
-- that heartbeats holds a console of theirs (`console_connections`, beside the bots' connections).
ALTER TABLE facebook_accounts ADD COLUMN auto_assign INTEGER NOT NULL DEFAULT 0;
ALTER TABLE facebook_accounts ADD COLUMN assign_limit INTEGER NOT NULL DEFAULT 10;
ALTER TABLE facebook_accounts ADD COLUMN return_when_offline INTEGER NOT NULL DEFAULT 0;
-- When the user's last console went away (NULL while one is connected, and once their conversations
-- were handed back); and when they were last given a conversation, so that ties go round.
ALTER TABLE users ADD COLUMN console_left_at INTEGER;
ALTER TABLE users ADD COLUMN auto_assigned_at INTEGER NOT NULL DEFAULT 0;

CREATE TABLE console_connections (
    node_id TEXT    NOT NULL REFERENCES sender_nodes (node_id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, node_id)
);
CREATE INDEX console_connections_by_node ON console_connections (node_id);
-- The queue of each account, oldest first.
CREATE INDEX conversations_waiting ON conversations (account_id, last_message_at, id)
    WHERE assignee_user_id IS NULL AND status = 'open';
