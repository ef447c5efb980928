-- Version 19: search that ignores case and accents (domain::search). Each indexed text is stored as
-- two columns of words, as written (`exact`, lowercase) and without accents (`folded`), made by the
-- application so both engines agree; the tables keep only the index (contentless), the text stays
-- in its own table. The rowid is the indexed row's id.
CREATE VIRTUAL TABLE message_search USING fts5 (
    exact, folded, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 0', prefix = '2 3'
);
-- A conversation's participant name.
CREATE VIRTUAL TABLE conversation_search USING fts5 (
    exact, folded, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 0', prefix = '2 3'
);
-- A customer's name, email and CIF (numbers are searched by their digits, in customer_phones).
CREATE VIRTUAL TABLE customer_search USING fts5 (
    exact, folded, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 0', prefix = '2 3'
);

CREATE TRIGGER message_search_forget AFTER DELETE ON messages
BEGIN
    DELETE FROM message_search WHERE rowid = old.id;
END;
CREATE TRIGGER conversation_search_forget AFTER DELETE ON conversations
BEGIN
    DELETE FROM conversation_search WHERE rowid = old.id;
END;
CREATE TRIGGER customer_search_forget AFTER DELETE ON customers
BEGIN
    DELETE FROM customer_search WHERE rowid = old.id;
END;

-- Rows stored before this version, not yet indexed: each source's ids below `below`. The
-- application indexes them when it opens the database, newest first, a chunk per transaction.
CREATE TABLE search_backlog (
    source TEXT    PRIMARY KEY,
    below  INTEGER NOT NULL
);
INSERT INTO search_backlog (source, below)
SELECT 'messages', MAX(id) + 1 FROM messages HAVING MAX(id) IS NOT NULL
UNION ALL SELECT 'conversations', MAX(id) + 1 FROM conversations HAVING MAX(id) IS NOT NULL
UNION ALL SELECT 'customers', MAX(id) + 1 FROM customers HAVING MAX(id) IS NOT NULL;

-- Lists of every account, most recently active first, read in order: a search that checks
-- conversations one by one stops as soon as its page is full.
CREATE INDEX conversations_by_recency_everywhere ON conversations (COALESCE(last_message_at, 0) DESC, id DESC);
