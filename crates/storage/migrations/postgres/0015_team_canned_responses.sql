-- Version 15 (PostgreSQL), in step with sqlite/0015_team_canned_responses.sql: a canned response may
-- belong to a team, offered to its members only (NULL: everyone's).
ALTER TABLE canned_responses ADD COLUMN team_id BIGINT REFERENCES teams (id) ON DELETE CASCADE;
