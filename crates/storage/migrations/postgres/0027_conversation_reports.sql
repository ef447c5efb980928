-- Version 27 (PostgreSQL), in step with sqlite/0027_conversation_reports.sql: when and by whom
-- each conversation was last resolved, for the conversation reports (resolution time, resolved per
-- agent). A reopened conversation keeps it until it is resolved again.
ALTER TABLE conversations ADD COLUMN resolved_at BIGINT;
ALTER TABLE conversations ADD COLUMN resolved_by_user_id BIGINT REFERENCES users (id) ON DELETE SET NULL;
