-- Version 5: calls found by status with an index seek, however long the call log grows. Waiting calls
-- are looked up at every answer and hangup, ringing ones at every console join; the partial index of
-- version 4 could not serve `status = 'queued'` (SQLite does not infer it from `status <> 'ended'`),
-- so those lookups scanned the whole log.
DROP INDEX calls_open;
CREATE INDEX calls_by_status ON calls (status, started_at, id);
