-- Version 6 (PostgreSQL), in step with sqlite/0006_indexes_for_deletes_and_recency.sql.
-- Deleting an account cascades to its messages and posts, and each deleted one looks up its commands.
CREATE INDEX commands_by_message ON commands (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX commands_by_post ON commands (post_id) WHERE post_id IS NOT NULL;
-- The account's events go with it (and the foreign key's SET NULL looks them up).
CREATE INDEX events_by_account ON events (account_id) WHERE account_id IS NOT NULL;
-- The conversation list orders by COALESCE(last_message_at, 0): index that expression, so a page is a
-- range read instead of a sort of all the account's conversations.
DROP INDEX conversations_by_recency;
CREATE INDEX conversations_by_recency ON conversations (account_id, COALESCE(last_message_at, 0) DESC, id DESC);
