-- Version 12 (SQLite), in step with postgres/0012_open_commands.sql: the commands not finished yet,
-- by state and account, so the metrics' sweep counts them and finds each account's oldest without
-- reading the finished ones, which are nearly all of the table.
CREATE INDEX commands_open ON commands (status, account_id, created_at)
    WHERE status IN ('pending', 'delivered', 'acknowledged');
