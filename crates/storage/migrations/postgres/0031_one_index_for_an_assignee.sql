-- Version 31 (PostgreSQL), in step with sqlite/0031_one_index_for_an_assignee.sql: an assignee's
-- conversations in one index, by status, which seeks an agent's open ones by both, so version 24's
-- partial index of open conversations by assignee goes. Every message an assigned open conversation
-- receives is a new row version in each index whose condition the row meets: one fewer now.
DROP INDEX conversations_by_assignee;
CREATE INDEX conversations_by_assignee ON conversations (assignee_user_id, status)
    WHERE assignee_user_id IS NOT NULL;
DROP INDEX conversations_open_by_assignee;
