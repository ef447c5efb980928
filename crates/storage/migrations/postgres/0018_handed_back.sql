-- Version 18 (PostgreSQL), in step with sqlite/0018_handed_back.sql: who handed a conversation back
-- to the queue, so that automatic assignment does not give it straight back to them.
ALTER TABLE conversations ADD COLUMN handed_back_by BIGINT REFERENCES users (id) ON DELETE SET NULL;
