-- Version 31: an assignee's conversations in one index, by status: (assignee, status) for assigned
-- conversations seeks an agent's open ones by both (their load, weighed at every hand-out and on
-- the floor; an offline agent's hand-back), so version 24's partial index of open conversations by
-- assignee is dropped. On PostgreSQL that is one index fewer for every message an assigned open
-- conversation receives (each such update is a new row version in every index whose condition the row
-- meets); here neither column changes with a message, and the schema stays in step.
DROP INDEX conversations_by_assignee;
CREATE INDEX conversations_by_assignee ON conversations (assignee_user_id, status)
    WHERE assignee_user_id IS NOT NULL;
DROP INDEX conversations_open_by_assignee;
