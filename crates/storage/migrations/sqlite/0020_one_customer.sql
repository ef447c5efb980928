-- Version 20: one customer across numbers and pages. Several emails (a merge keeps both people's),
-- fields the business defines, and the pairs someone said are not the same person.

-- Every email of a customer, the main one first (by rowid, as their numbers).
CREATE TABLE customer_emails (
    customer_id INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    email       TEXT    NOT NULL,
    PRIMARY KEY (customer_id, email)
);
CREATE INDEX customer_emails_by_address ON customer_emails (lower(email));
INSERT INTO customer_emails (customer_id, email) SELECT id, email FROM customers WHERE email <> '' ORDER BY id;
ALTER TABLE customers DROP COLUMN email;

-- Fields an admin adds to every customer (`domain::customer::FieldKind`). A field's kind never
-- changes once made: its values were checked against it.
CREATE TABLE customer_fields (
    id         INTEGER PRIMARY KEY,
    key        TEXT    NOT NULL UNIQUE,
    label      TEXT    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('text', 'number', 'date', 'choice')),
    -- A JSON array of the choices (only for `choice`).
    choices    TEXT    NOT NULL DEFAULT '[]',
    position   INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

-- A customer's value of a field, as text in the field's canonical form (numbers as written by
-- serde_json, dates as YYYY-MM-DD). No row: no value.
CREATE TABLE customer_field_values (
    customer_id INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    field_id    INTEGER NOT NULL REFERENCES customer_fields (id) ON DELETE CASCADE,
    value       TEXT    NOT NULL,
    PRIMARY KEY (customer_id, field_id)
);
CREATE INDEX customer_field_values_by_field ON customer_field_values (field_id);

-- Two customers someone said are different people: never suggested as duplicates again.
CREATE TABLE customer_distinct_pairs (
    customer_id INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    other_id    INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    PRIMARY KEY (customer_id, other_id),
    CHECK (customer_id < other_id)
);
CREATE INDEX customer_distinct_pairs_by_other ON customer_distinct_pairs (other_id);

-- Two conversations of one person on one page (the same participant), found together.
CREATE INDEX conversations_by_participant ON conversations (account_id, participant_id);
