-- Version 7 (PostgreSQL), in step with sqlite/0007_post_images.sql: a post may publish a photo
-- (Graph's POST /{page-id}/photos) with its text as the caption.
ALTER TABLE posts ADD COLUMN image_url TEXT;
