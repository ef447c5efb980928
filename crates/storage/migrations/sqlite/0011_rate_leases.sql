-- Version 11 (SQLite), in step with postgres/0011_rate_leases.sql, which lets the nodes of one
-- PostgreSQL database take tokens of their shared rate limits in blocks. On SQLite there is one node
-- and its limits stay in memory, so this version changes nothing.
SELECT 1;
