-- Version 27: when and by whom
-- each conversation was last resolved, for the conversation reports (resolution time, resolved per
-- agent). A reopened conversation keeps it until it is resolved again.
ALTER TABLE conversations ADD COLUMN resolved_at INTEGER;
ALTER TABLE conversations ADD COLUMN resolved_by_user_id INTEGER REFERENCES users (id) ON DELETE SET NULL;
