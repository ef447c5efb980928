-- Version 29: SQLite's search tables stop storing word positions (see its file).
-- PostgreSQL's `tsvector` columns built by `array_to_tsvector` hold no positions already, and its
-- GIN indexes none: nothing changes here. The version is kept so the two schemas stay in step.
SELECT 1;
