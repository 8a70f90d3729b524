"""Erasing an account (GDPR) and exporting everything it owns.

`erase` runs in one transaction and moves every counter the account's rows fed, so the
integrity check (storage/integrity.py) finds no drift afterwards:

- its likes: the liked videos' and comments' counts, and the video authors' likes received;
- its follows, both ways: the other accounts' follower and following counts;
- its enrollments: the courses' enrollment counts;
- its videos go, with the comments on them and every like on either;
- its comments on other people's videos: a comment nobody replied to goes (a deleted parent
  left empty by it goes too, as when a comment is deleted); one with replies is emptied and
  kept, its author replaced by the placeholder account (migration 0051), so other people's
  replies stay where they were;
- then the account row, which takes its tokens, favorites, watch history and the courses it
  teaches with it.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from core.errors import NotFound
from storage.accounts.users import PLACEHOLDER_ID

_UNLIKE = [
    # Likes given to other people's videos and comments.
    """UPDATE videos v SET like_count = v.like_count - s.likes,
                           dislike_count = v.dislike_count - s.dislikes
       FROM (SELECT target_id, count(*) FILTER (WHERE action = 'like') AS likes,
                    count(*) FILTER (WHERE action = 'dislike') AS dislikes
             FROM likes WHERE user_id = $1 AND target_type = 'video' GROUP BY target_id) s
       WHERE v.id = s.target_id AND v.author_id <> $1""",
    """UPDATE users u SET total_likes_received = u.total_likes_received - s.likes
       FROM (SELECT v.author_id, count(*) AS likes FROM likes l JOIN videos v ON v.id = l.target_id
             WHERE l.user_id = $1 AND l.target_type = 'video' AND l.action = 'like'
               AND v.author_id <> $1
             GROUP BY v.author_id) s
       WHERE u.id = s.author_id""",
    """UPDATE comments c SET like_count = c.like_count - s.likes,
                             dislike_count = c.dislike_count - s.dislikes
       FROM (SELECT target_id, count(*) FILTER (WHERE action = 'like') AS likes,
                    count(*) FILTER (WHERE action = 'dislike') AS dislikes
             FROM likes WHERE user_id = $1 AND target_type = 'comment' GROUP BY target_id) s
       WHERE c.id = s.target_id""",
    "DELETE FROM likes WHERE user_id = $1",
]
_UNFOLLOW = [
    """UPDATE users SET follower_count = follower_count - 1
       WHERE id IN (SELECT following_id FROM follows WHERE follower_id = $1)""",
    """UPDATE users SET following_count = following_count - 1
       WHERE id IN (SELECT follower_id FROM follows WHERE following_id = $1)""",
    "DELETE FROM follows WHERE follower_id = $1 OR following_id = $1",
]
_UNENROLL = [
    """UPDATE courses SET enrollment_count = enrollment_count - 1
       WHERE id IN (SELECT course_id FROM enrollments WHERE user_id = $1 AND role = 'student')""",
    "DELETE FROM enrollments WHERE user_id = $1",
]
_OWN_VIDEOS = [
    """DELETE FROM likes l WHERE
         (l.target_type = 'video' AND l.target_id IN (SELECT id FROM videos WHERE author_id = $1))
         OR (l.target_type = 'comment' AND l.target_id IN (
               SELECT c.id FROM comments c JOIN videos v ON v.id = c.video_id
               WHERE v.author_id = $1))""",
    "DELETE FROM videos WHERE author_id = $1",  # comments and live streams cascade
]
# One round of removing comments nobody replied to: the account's own, and deleted ones left
# empty by the previous round. Moves the counts of their videos and parents.
_REMOVE_LEAVES = """
    WITH gone AS (
        DELETE FROM comments
        WHERE reply_count = 0 AND (user_id = $1 OR (deleted AND id = ANY($2::uuid[])))
        RETURNING id, video_id, parent_comment_id, deleted),
    unliked AS (
        DELETE FROM likes WHERE target_type = 'comment' AND target_id IN (SELECT id FROM gone)),
    videos_moved AS (
        UPDATE videos v SET comment_count = v.comment_count - s.n
        FROM (SELECT video_id, count(*) AS n FROM gone WHERE NOT deleted GROUP BY video_id) s
        WHERE v.id = s.video_id),
    parents AS (
        UPDATE comments p SET reply_count = p.reply_count - s.n
        FROM (SELECT parent_comment_id, count(*) AS n FROM gone
              WHERE parent_comment_id IS NOT NULL GROUP BY parent_comment_id) s
        WHERE p.id = s.parent_comment_id
        RETURNING p.id, p.deleted, p.reply_count)
    SELECT (SELECT count(*) FROM gone) AS removed,
           coalesce((SELECT array_agg(id) FROM parents WHERE deleted AND reply_count = 0),
                    '{}') AS emptied"""
_KEEP_WITH_REPLIES = [
    # The placeholder is made by migration 0051; again here for databases emptied since.
    f"""INSERT INTO users (id, username, email, password_hash, display_name,
                          avatar_url, settings)
        SELECT '{PLACEHOLDER_ID}', 'deleted_account', 'deleted@invalid.invalid', '!',
               '[deleted]', '/static/avatars/default.svg',
               jsonb_set(settings, '{{privacy,profile_visibility}}', '"private"')
        FROM users WHERE id = $1
        ON CONFLICT DO NOTHING""",
    """UPDATE videos v SET comment_count = v.comment_count - s.n
       FROM (SELECT video_id, count(*) AS n FROM comments
             WHERE user_id = $1 AND NOT deleted GROUP BY video_id) s
       WHERE v.id = s.video_id""",
    f"""UPDATE comments SET deleted = true, content = '', user_id = '{PLACEHOLDER_ID}',
                            updated_at = now()
        WHERE user_id = $1""",
]


async def erase(pool: asyncpg.Pool, user_id: uuid.UUID) -> None:
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", user_id) is None:
            raise NotFound("User not found")
        for statement in _UNLIKE + _UNFOLLOW + _UNENROLL + _OWN_VIDEOS:
            await conn.execute(statement, user_id)
        emptied: list[uuid.UUID] = []
        while True:
            row = await conn.fetchrow(_REMOVE_LEAVES, user_id, emptied)
            assert row is not None
            emptied = list(row["emptied"])
            if not row["removed"]:
                break
        for statement in _KEEP_WITH_REPLIES:
            await conn.execute(statement, user_id)
        await conn.execute("DELETE FROM users WHERE id = $1", user_id)


_EXPORT = {
    "videos": """SELECT id, title, description, video_url, thumbnail_url, duration, tags,
                        category, visibility, view_count, like_count, dislike_count,
                        comment_count, created_at, updated_at
                 FROM videos WHERE author_id = $1 ORDER BY created_at""",
    "comments": """SELECT id, video_id, parent_comment_id, content, like_count, reply_count,
                          edited, deleted, created_at, updated_at
                   FROM comments WHERE user_id = $1 ORDER BY created_at""",
    "likes": """SELECT target_type, target_id, action, created_at FROM likes
                WHERE user_id = $1 ORDER BY created_at""",
    "following": """SELECT u.id, u.username, f.created_at FROM follows f
                    JOIN users u ON u.id = f.following_id
                    WHERE f.follower_id = $1 ORDER BY f.created_at""",
    "followers": """SELECT u.id, u.username, f.created_at FROM follows f
                    JOIN users u ON u.id = f.follower_id
                    WHERE f.following_id = $1 ORDER BY f.created_at""",
    "enrollments": """SELECT e.course_id, c.title, e.role, e.enrolled_at FROM enrollments e
                      JOIN courses c ON c.id = e.course_id
                      WHERE e.user_id = $1 ORDER BY e.enrolled_at""",
    "courses_taught": """SELECT id, title, description, level, tags, published, capacity,
                                enrollment_count, created_at, updated_at
                         FROM courses WHERE instructor_id = $1 ORDER BY created_at""",
    "sessions": """SELECT id, family_id, created_at, expires_at, rotated_at, revoked_at
                   FROM refresh_tokens WHERE user_id = $1 ORDER BY created_at""",
    "favorites": """SELECT f.media_type, f.tmdb_id, t.title, f.created_at FROM favorites f
                    JOIN catalogue_titles t USING (media_type, tmdb_id)
                    WHERE f.user_id = $1 ORDER BY f.created_at""",
    "watch_history": """SELECT h.media_type, h.tmdb_id, t.title, h.progress_seconds,
                               h.runtime_seconds, h.watched_at
                        FROM watch_history h JOIN catalogue_titles t USING (media_type, tmdb_id)
                        WHERE h.user_id = $1 ORDER BY h.watched_at""",
}
_ACCOUNT = """SELECT id, username, email, display_name, avatar_url, bio, verified, role,
                     settings, email_verified, follower_count, following_count, total_views,
                     total_videos, total_likes_received, created_at, updated_at, last_login
              FROM users WHERE id = $1"""


async def export(pool: asyncpg.Pool, user_id: uuid.UUID) -> dict[str, Any]:
    """Everything the account owns, by section, in one consistent snapshot."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        account = await conn.fetchrow(_ACCOUNT, user_id)
        if account is None:
            raise NotFound("User not found")
        data: dict[str, Any] = {"account": dict(account)}
        for section, sql in _EXPORT.items():
            data[section] = [dict(row) for row in await conn.fetch(sql, user_id)]
        return data
