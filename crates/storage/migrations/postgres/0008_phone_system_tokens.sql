-- Version 8 (PostgreSQL), in step with sqlite/0008_phone_system_tokens.sql: a kind of token for phone
-- systems, which may post CTI events and read the call center, nothing else. SQLite rebuilds the table
-- to change the CHECK; PostgreSQL replaces the constraint in place (rows and ids untouched).
ALTER TABLE auth_tokens DROP CONSTRAINT auth_tokens_kind_check;
ALTER TABLE auth_tokens ADD CONSTRAINT auth_tokens_kind_check CHECK (kind IN ('bot', 'api', 'pbx'));
