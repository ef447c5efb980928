-- Version 5 (PostgreSQL), in step with sqlite/0005_calls_by_status.sql: calls found by status with an
-- index seek however long the call log grows (waiting calls at every answer and hangup, ringing ones at
-- every console join), in place of version 4's partial index of open calls.
DROP INDEX calls_open;
CREATE INDEX calls_by_status ON calls (status, started_at, id);
