-- Version 15: a canned response may belong to a team, offered to its members only (NULL: everyone's).
ALTER TABLE canned_responses ADD COLUMN team_id INTEGER REFERENCES teams (id) ON DELETE CASCADE;
