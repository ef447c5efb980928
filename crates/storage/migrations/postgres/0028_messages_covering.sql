-- Version 28: the conversation index carries each message's direction and author, so the
-- conversation reports read a period's messages from the index alone (an index-only scan once
-- autovacuum has marked the pages visible). It replaces the index it extends.
DROP INDEX messages_by_conversation;
CREATE INDEX messages_by_conversation ON messages (conversation_id, sent_at DESC, id DESC)
    INCLUDE (direction, author_user_id);
