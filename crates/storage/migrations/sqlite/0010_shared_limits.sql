-- Version 10 (SQLite), in step with postgres/0010_shared_limits.sql, which makes the tables the nodes
-- of one PostgreSQL database count their rate limits and failed logins in. On SQLite there is one node:
-- its limits stay in memory (docs/scaling.md says why split roles need not share them), so this
-- version changes nothing.
SELECT 1;
