-- A reaction to a video in one round trip (storage.videos.likes.react_to_video).
--
-- The function locks the video row, checks that the caller may see it, then, in a second
-- statement, writes the caller's reaction and moves the counters by the difference. In a
-- VOLATILE PL/pgSQL function each statement takes a fresh snapshot under READ COMMITTED, so
-- the second statement sees every reaction committed before the lock was granted: the same
-- guarantee as the lock-then-write transaction it replaces, which cost four round trips
-- (BEGIN, lock, write, COMMIT) plus one to read the video first.
--
-- Who may see a video is the rule of storage.videos.videos.Video.visible_to; the caller
-- passes its parts (the open visibilities, whether it is an admin) and a test checks that the
-- two agree. An empty result means "no such video for this caller".
CREATE FUNCTION react_to_video(
    p_user uuid, p_video uuid, p_action text, p_admin boolean, p_open text[],
    p_like_weight double precision
) RETURNS TABLE (
    id uuid, view_count bigint, like_count bigint, dislike_count bigint, comment_count bigint
)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    target record;
BEGIN
    SELECT v.author_id, v.visibility, v.processing_status INTO target
      FROM videos v WHERE v.id = p_video FOR UPDATE;
    IF NOT FOUND OR NOT (
        target.author_id = p_user OR p_admin
        OR (target.visibility = ANY (p_open) AND target.processing_status = 'ready')
    ) THEN
        RETURN;
    END IF;
    RETURN QUERY
    WITH prev AS (
        SELECT action FROM likes
         WHERE user_id = p_user AND target_id = p_video AND target_type = 'video'
    ), removed AS (
        DELETE FROM likes
         WHERE p_action = 'remove' AND user_id = p_user AND target_id = p_video
           AND target_type = 'video'
    ), written AS (
        INSERT INTO likes (user_id, target_id, target_type, action)
        SELECT p_user, p_video, 'video', p_action WHERE p_action <> 'remove'
        ON CONFLICT (user_id, target_id, target_type)
        DO UPDATE SET action = EXCLUDED.action, updated_at = now()
    ), diff AS (
        SELECT (p_action = 'like')::int
                   - coalesce((SELECT action = 'like' FROM prev), false)::int AS likes,
               (p_action = 'dislike')::int
                   - coalesce((SELECT action = 'dislike' FROM prev), false)::int AS dislikes
    ), moved AS (
        UPDATE videos v
           SET like_count = v.like_count + diff.likes,
               dislike_count = v.dislike_count + diff.dislikes,
               trending_score = CASE WHEN diff.likes > 0
                   THEN trending_bump(v.trending_score, p_like_weight, now())
                   ELSE v.trending_score END
          FROM diff WHERE v.id = p_video
        RETURNING v.id, v.author_id, v.view_count, v.like_count, v.dislike_count,
                  v.comment_count, diff.likes
    ), author AS (
        UPDATE users u SET total_likes_received = u.total_likes_received + moved.likes
          FROM moved WHERE u.id = moved.author_id AND moved.likes <> 0
    )
    SELECT moved.id, moved.view_count, moved.like_count, moved.dislike_count,
           moved.comment_count
      FROM moved;
END
$$;
