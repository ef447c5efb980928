-- Version 18: who handed a conversation back to the queue, so that automatic assignment does not
-- give it straight back to them (cleared when anyone is given it).
ALTER TABLE conversations ADD COLUMN handed_back_by INTEGER REFERENCES users (id) ON DELETE SET NULL;
