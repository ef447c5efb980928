-- Version 19 (PostgreSQL), in step with sqlite/0019_search.sql: search that ignores case and
-- accents. The application makes each text's words (domain::search); they are stored as lexemes
-- with array_to_tsvector, never through a text search parser, so both engines agree word for word.
CREATE TABLE message_search (
    id     BIGINT   PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    exact  tsvector NOT NULL,
    folded tsvector NOT NULL
);
-- GIN keeps new entries in a pending list that every search reads whole until it is merged (up to
-- 4 MB by default: 10 to 30 ms a query, measured over a million messages). Messages are written all
-- the time, so their list is kept short; names and customers change rarely and skip it.
CREATE INDEX message_search_exact ON message_search USING gin (exact) WITH (gin_pending_list_limit = 64);
CREATE INDEX message_search_folded ON message_search USING gin (folded) WITH (gin_pending_list_limit = 64);

CREATE TABLE conversation_search (
    id     BIGINT   PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
    exact  tsvector NOT NULL,
    folded tsvector NOT NULL
);
CREATE INDEX conversation_search_exact ON conversation_search USING gin (exact) WITH (fastupdate = off);
CREATE INDEX conversation_search_folded ON conversation_search USING gin (folded) WITH (fastupdate = off);

CREATE TABLE customer_search (
    id     BIGINT   PRIMARY KEY REFERENCES customers (id) ON DELETE CASCADE,
    exact  tsvector NOT NULL,
    folded tsvector NOT NULL
);
CREATE INDEX customer_search_exact ON customer_search USING gin (exact) WITH (fastupdate = off);
CREATE INDEX customer_search_folded ON customer_search USING gin (folded) WITH (fastupdate = off);

CREATE TABLE search_backlog (
    source TEXT   PRIMARY KEY,
    below  BIGINT NOT NULL
);
INSERT INTO search_backlog (source, below)
SELECT 'messages', MAX(id) + 1 FROM messages HAVING MAX(id) IS NOT NULL
UNION ALL SELECT 'conversations', MAX(id) + 1 FROM conversations HAVING MAX(id) IS NOT NULL
UNION ALL SELECT 'customers', MAX(id) + 1 FROM customers HAVING MAX(id) IS NOT NULL;

-- Lists of every account, most recently active first, read in order: a search that checks
-- conversations one by one stops as soon as its page is full.
CREATE INDEX conversations_by_recency_everywhere ON conversations (COALESCE(last_message_at, 0) DESC, id DESC);
