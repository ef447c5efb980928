-- Version 3: customers, the one record behind a caller and a Facebook conversation.

CREATE TABLE customers (
    id         INTEGER PRIMARY KEY,
    full_name  TEXT    NOT NULL DEFAULT '',
    email      TEXT    NOT NULL DEFAULT '',
    cif        TEXT    NOT NULL DEFAULT '',
    notes      TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX customers_by_name ON customers (full_name);
CREATE INDEX customers_by_cif ON customers (cif) WHERE cif <> '';

-- A customer's phone numbers, normalised (domain::phone::normalize) so every spelling finds them.
CREATE TABLE customer_phones (
    customer_id INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    number      TEXT    NOT NULL,
    label       TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (customer_id, number)
);
CREATE INDEX customer_phones_by_number ON customer_phones (number);

-- Which Facebook conversations are this customer's.
CREATE TABLE customer_conversations (
    customer_id     INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    PRIMARY KEY (customer_id, conversation_id)
);
CREATE INDEX customer_conversations_by_conversation ON customer_conversations (conversation_id);
