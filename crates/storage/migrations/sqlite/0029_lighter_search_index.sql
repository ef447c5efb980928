-- Version 29: the search tables keep, for each word, which rows and columns hold it, not where in
-- the text (`detail = column`): searches are words and prefixes ANDed, never phrases or NEAR, so
-- positions were never read, and writing them was a large share of what indexing a message cost
-- (docs/benchmarks.md, "A lighter search index"). Column sizes (`columnsize = 0`) would be the
-- next thing to leave out, but FTS5 refuses it beside `contentless_delete`, which the triggers
-- that forget deleted rows need. FTS5 options cannot be changed in place: the
-- tables are made again, empty, and every row is listed in the backlog, which the application
-- indexes when it opens the database, newest first, a chunk per transaction (as version 19 did).
DROP TABLE message_search;
DROP TABLE conversation_search;
DROP TABLE customer_search;
CREATE VIRTUAL TABLE message_search USING fts5 (
    exact, folded, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 0',
    prefix = '2 3', detail = column
);
CREATE VIRTUAL TABLE conversation_search USING fts5 (
    exact, folded, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 0',
    prefix = '2 3', detail = column
);
CREATE VIRTUAL TABLE customer_search USING fts5 (
    exact, folded, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 0',
    prefix = '2 3', detail = column
);
DELETE FROM search_backlog;
INSERT INTO search_backlog (source, below)
SELECT 'messages', MAX(id) + 1 FROM messages HAVING MAX(id) IS NOT NULL
UNION ALL SELECT 'conversations', MAX(id) + 1 FROM conversations HAVING MAX(id) IS NOT NULL
UNION ALL SELECT 'customers', MAX(id) + 1 FROM customers HAVING MAX(id) IS NOT NULL;
