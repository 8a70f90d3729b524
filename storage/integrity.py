"""Counter integrity: compare every stored counter with the rows it counts, or recount.

`drift` is what tests (and an operator) run to prove counters never drifted; `recount` sets
every counter from the rows (bulk loads such as `seed` use it instead of moving counters one
by one). View counts and users.total_views are not rows, so only their consistency between
videos and users is checked.
"""

from __future__ import annotations

import asyncpg

from storage.db import Conn

# Each query counts the rows whose stored counter differs from the truth.
_CHECKS = {
    "videos.like_count": """
        SELECT count(*) FROM videos v WHERE v.like_count <> (SELECT count(*) FROM likes l
            WHERE l.target_id = v.id AND l.target_type = 'video' AND l.action = 'like')""",
    "videos.dislike_count": """
        SELECT count(*) FROM videos v WHERE v.dislike_count <> (SELECT count(*) FROM likes l
            WHERE l.target_id = v.id AND l.target_type = 'video' AND l.action = 'dislike')""",
    "videos.comment_count": """
        SELECT count(*) FROM videos v WHERE v.comment_count <> (SELECT count(*) FROM comments c
            WHERE c.video_id = v.id AND NOT c.deleted)""",
    "comments.like_count": """
        SELECT count(*) FROM comments c WHERE c.like_count <> (SELECT count(*) FROM likes l
            WHERE l.target_id = c.id AND l.target_type = 'comment' AND l.action = 'like')""",
    "comments.dislike_count": """
        SELECT count(*) FROM comments c WHERE c.dislike_count <> (SELECT count(*) FROM likes l
            WHERE l.target_id = c.id AND l.target_type = 'comment' AND l.action = 'dislike')""",
    "comments.reply_count": """
        SELECT count(*) FROM comments c WHERE c.reply_count <> (SELECT count(*) FROM comments r
            WHERE r.parent_comment_id = c.id)""",
    "users.follower_count": """
        SELECT count(*) FROM users u WHERE u.follower_count <> (SELECT count(*) FROM follows f
            WHERE f.following_id = u.id)""",
    "users.following_count": """
        SELECT count(*) FROM users u WHERE u.following_count <> (SELECT count(*) FROM follows f
            WHERE f.follower_id = u.id)""",
    "users.total_videos": """
        SELECT count(*) FROM users u WHERE u.total_videos <> (SELECT count(*) FROM videos v
            WHERE v.author_id = u.id)""",
    "users.total_likes_received": """
        SELECT count(*) FROM users u WHERE u.total_likes_received <> (
            SELECT coalesce(sum(v.like_count), 0) FROM videos v WHERE v.author_id = u.id)""",
    "users.total_views": """
        SELECT count(*) FROM users u WHERE u.total_views <> (
            SELECT coalesce(sum(v.view_count), 0) FROM videos v WHERE v.author_id = u.id)""",
    "courses.enrollment_count": """
        SELECT count(*) FROM courses c WHERE c.enrollment_count <> (
            SELECT count(*) FROM enrollments e WHERE e.course_id = c.id AND e.role = 'student')""",
    "comments.orphan_likes": """
        SELECT count(*) FROM likes l WHERE
            (l.target_type = 'video'
                AND NOT EXISTS (SELECT 1 FROM videos v WHERE v.id = l.target_id))
            OR (l.target_type = 'comment'
                AND NOT EXISTS (SELECT 1 FROM comments c WHERE c.id = l.target_id))""",
}


async def drift(conn: Conn) -> dict[str, int]:
    """Counter name -> rows whose counter disagrees with the rows it counts (all 0 is good)."""
    return {name: await conn.fetchval(sql) for name, sql in _CHECKS.items()}


_RECOUNT = [
    """UPDATE videos v SET
           like_count = (SELECT count(*) FROM likes l WHERE l.target_id = v.id
                         AND l.target_type = 'video' AND l.action = 'like'),
           dislike_count = (SELECT count(*) FROM likes l WHERE l.target_id = v.id
                            AND l.target_type = 'video' AND l.action = 'dislike'),
           comment_count = (SELECT count(*) FROM comments c
                            WHERE c.video_id = v.id AND NOT c.deleted)""",
    """UPDATE comments c SET
           like_count = (SELECT count(*) FROM likes l WHERE l.target_id = c.id
                         AND l.target_type = 'comment' AND l.action = 'like'),
           dislike_count = (SELECT count(*) FROM likes l WHERE l.target_id = c.id
                            AND l.target_type = 'comment' AND l.action = 'dislike'),
           reply_count = (SELECT count(*) FROM comments r WHERE r.parent_comment_id = c.id)""",
    """UPDATE users u SET
           follower_count = (SELECT count(*) FROM follows f WHERE f.following_id = u.id),
           following_count = (SELECT count(*) FROM follows f WHERE f.follower_id = u.id),
           total_videos = s.videos, total_views = s.views, total_likes_received = s.likes
         FROM (SELECT u2.id, count(v.id) AS videos, coalesce(sum(v.view_count), 0) AS views,
                      coalesce(sum(v.like_count), 0) AS likes
                 FROM users u2 LEFT JOIN videos v ON v.author_id = u2.id GROUP BY u2.id) s
        WHERE s.id = u.id""",
    """UPDATE courses c SET enrollment_count = (
           SELECT count(*) FROM enrollments e WHERE e.course_id = c.id AND e.role = 'student')""",
]


async def recount(conn: asyncpg.Connection) -> None:
    """Set every counter from its rows, in one transaction (bulk loads; repairs)."""
    async with conn.transaction():
        for sql in _RECOUNT:
            await conn.execute(sql)
