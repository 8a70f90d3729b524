-- Comments: CLUTCH's "Comments Collection". Replies point at their parent on the same video.
--
-- reply_count counts the direct replies that still have a row (a deleted comment with replies
-- keeps its row, content emptied, so the thread keeps its shape). The video's comment_count
-- counts comments that are not deleted.
CREATE TABLE comments (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    video_id          uuid NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    parent_comment_id uuid REFERENCES comments (id) ON DELETE CASCADE,
    content           text NOT NULL CHECK (length(content) <= 1000),
    like_count        bigint NOT NULL DEFAULT 0 CHECK (like_count >= 0),
    dislike_count     bigint NOT NULL DEFAULT 0 CHECK (dislike_count >= 0),
    reply_count       bigint NOT NULL DEFAULT 0 CHECK (reply_count >= 0),
    edited            boolean NOT NULL DEFAULT false,
    deleted           boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (deleted OR length(content) >= 1)
);

-- Top-level threads of a video, newest/oldest first, and by likes for sort=top.
CREATE INDEX comments_video_created_idx ON comments (video_id, created_at DESC, id DESC)
    WHERE parent_comment_id IS NULL;
CREATE INDEX comments_video_top_idx ON comments (video_id, like_count DESC, created_at DESC)
    WHERE parent_comment_id IS NULL;
-- Sparse in Mongo terms: only replies are indexed.
CREATE INDEX comments_parent_idx ON comments (parent_comment_id, created_at)
    WHERE parent_comment_id IS NOT NULL;
CREATE INDEX comments_user_created_idx ON comments (user_id, created_at DESC);
