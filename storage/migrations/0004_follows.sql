-- Follows: CLUTCH's "Follows Collection". The primary key is the unique (follower, following)
-- index; the other two serve the followers list and the following list / feed.
CREATE TABLE follows (
    follower_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    following_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (follower_id, following_id),
    CHECK (follower_id <> following_id)
);
CREATE INDEX follows_following_created_idx ON follows (following_id, created_at DESC);
CREATE INDEX follows_follower_created_idx ON follows (follower_id, created_at DESC);
