-- Version 30: less index work for each message a conversation receives. SQLite rewrites an index
-- entry when a column it holds changes, and every new message changes `last_message_at`. Two
-- indexes ordered by it, an order no query reads from them (the lists order by
-- `COALESCE(last_message_at, 0)`, which the recency indexes hold):
-- - the assignee's: kept for the assignee's lookups (and a user's deletion), only for conversations
--   that have one;
-- - the status's: it now holds what the counts of a status read (its account, its assignee), so
--   they are answered from the index.
-- (PostgreSQL also drops the messages' foreign key to their account and compresses events with lz4;
-- SQLite checks a foreign key by its primary key, and compresses nothing.)
DROP INDEX conversations_by_assignee;
CREATE INDEX conversations_by_assignee ON conversations (assignee_user_id)
    WHERE assignee_user_id IS NOT NULL;
DROP INDEX conversations_by_status;
CREATE INDEX conversations_by_status ON conversations (status, account_id, assignee_user_id);
