-- Version 30 (PostgreSQL), in step with sqlite/0030_indexes_a_message_leaves_alone.sql: less index
-- work for each message a conversation receives.
--
-- On PostgreSQL every update of a conversation whose `last_message_at` changes (every new message)
-- is a new row version in the heap and in each of the table's indexes, so each index costs every
-- message. Two of them ordered by `last_message_at`, an order no query reads from them (the lists
-- order by `COALESCE(last_message_at, 0)`, which the recency indexes hold):
-- - the assignee's: kept for the assignee's lookups (and a user's deletion), only for conversations
--   that have one;
-- - the status's: it now holds what the counts of a status read (its account, its assignee), so
--   they are answered from the index.
DROP INDEX conversations_by_assignee;
CREATE INDEX conversations_by_assignee ON conversations (assignee_user_id)
    WHERE assignee_user_id IS NOT NULL;
DROP INDEX conversations_by_status;
CREATE INDEX conversations_by_status ON conversations (status, account_id, assignee_user_id);

-- A message's account is its conversation's, which cascades from the account already: this check
-- was one more lookup (a row lock of the account) for every message stored.
ALTER TABLE messages DROP CONSTRAINT messages_account_id_fkey;

-- Events' payloads (a batch's messages and conversations, tens of kilobytes) are compressed as they
-- are stored; lz4 costs a fraction of the default pglz's CPU. A server built without lz4 keeps pglz.
DO $$
BEGIN
    ALTER TABLE events ALTER COLUMN payload SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    RAISE NOTICE 'lz4 is not available on this server: events stay compressed with pglz';
END
$$;
