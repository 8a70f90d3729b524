-- Likes and dislikes of videos and comments: CLUTCH's "Likes Collection".
-- One row per (user, target); "remove" deletes it. target_id has no foreign key because it
-- points at either table: deleting a video or comment deletes its likes in the same
-- transaction (storage.videos.delete, storage.comments.delete).
CREATE TABLE likes (
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    target_id   uuid NOT NULL,
    target_type text NOT NULL CHECK (target_type IN ('video', 'comment')),
    action      text NOT NULL CHECK (action IN ('like', 'dislike')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, target_id, target_type)
);
CREATE INDEX likes_target_action_idx ON likes (target_id, target_type, action);
