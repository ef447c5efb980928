-- Version 22: private replies. An agent answers a comment in Messenger (Facebook's private reply): the
-- answer is a message marked `private`, and once Facebook says who it went to, the comment's
-- conversation links the Messenger conversation it opened.
ALTER TABLE comments ADD COLUMN private INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN linked_conversation_id INTEGER REFERENCES conversations (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED;
-- (Deferred: a copy between databases writes conversations in id order, and the Messenger conversation
-- a comment opened is usually the newer one.)
