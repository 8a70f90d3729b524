-- Every comment of a video, replies included: counting a video's comments, deleting a video
-- (ON DELETE CASCADE) and removing the likes of its comments look them up by video_id, and
-- the indexes of 0003 only cover top-level comments.
CREATE INDEX comments_video_idx ON comments (video_id, created_at DESC);
