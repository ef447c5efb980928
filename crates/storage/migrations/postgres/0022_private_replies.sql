-- Version 22 (PostgreSQL), in step with sqlite/0022_private_replies.sql: private replies.
ALTER TABLE comments ADD COLUMN private BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE conversations ADD COLUMN linked_conversation_id BIGINT REFERENCES conversations (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED;
