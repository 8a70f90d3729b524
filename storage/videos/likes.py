"""Likes and dislikes of videos and comments, and the counters they move.

Exactness under concurrency: a reaction first locks its target row (the video or comment whose
counters it moves), then, in the next statement, reads the caller's previous reaction, writes
the new one and moves the counters by the difference in one SQL statement. Under READ
COMMITTED each statement sees everything committed before it started, and the lock makes
every reaction to one target wait for the previous one to commit, so the previous reaction is
never stale and the counters always equal the rows. Python never reads a counter to write it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

import asyncpg

from core.errors import NotFound
from storage.db import Conn
from storage.videos.videos import OPEN_VISIBILITIES, TRENDING_WEIGHTS

Action = Literal["like", "dislike", "remove"]
UserAction = Literal["liked", "disliked", "none"]

USER_ACTION: dict[str, UserAction] = {"like": "liked", "dislike": "disliked", "remove": "none"}


@dataclass(frozen=True, slots=True)
class VideoReaction:
    user_action: UserAction
    video_id: uuid.UUID
    view_count: int
    like_count: int
    dislike_count: int
    comment_count: int


@dataclass(frozen=True, slots=True)
class CommentReaction:
    user_action: UserAction
    comment_id: uuid.UUID
    video_id: uuid.UUID
    like_count: int
    dislike_count: int


# $1 user, $2 target, $3 new action (like|dislike|remove), $4 target type.
# `prev` and the writes run on one snapshot taken after the target row lock was granted.
_DIFF = """
    prev AS (
        SELECT action FROM likes WHERE user_id = $1 AND target_id = $2 AND target_type = $4
    ), removed AS (
        DELETE FROM likes
         WHERE $3 = 'remove' AND user_id = $1 AND target_id = $2 AND target_type = $4
    ), written AS (
        INSERT INTO likes (user_id, target_id, target_type, action)
        SELECT $1, $2, $4, $3 WHERE $3 <> 'remove'
        ON CONFLICT (user_id, target_id, target_type)
        DO UPDATE SET action = EXCLUDED.action, updated_at = now()
    ), diff AS (
        SELECT ($3 = 'like')::int
                   - coalesce((SELECT action = 'like' FROM prev), false)::int AS likes,
               ($3 = 'dislike')::int
                   - coalesce((SELECT action = 'dislike' FROM prev), false)::int AS dislikes
    )
"""

_COMMENT_SQL = f"""
    WITH {_DIFF}
    UPDATE comments c
       SET like_count = c.like_count + diff.likes, dislike_count = c.dislike_count + diff.dislikes
      FROM diff WHERE c.id = $2
    RETURNING c.id, c.video_id, c.like_count, c.dislike_count
"""


async def react_to_video(
    conn: Conn, *, user_id: uuid.UUID, video_id: uuid.UUID, action: Action, is_admin: bool
) -> VideoReaction:
    """Set the caller's reaction to a video they may see (idempotent) and move the counters.

    One round trip: the SQL function `react_to_video` (migration 0012) locks the video,
    checks the caller may see it, then writes. NOT_FOUND when the video does not exist or is
    hidden from the caller, so private ids do not leak.
    """
    row = await conn.fetchrow(
        "SELECT * FROM react_to_video($1, $2, $3, $4, $5, $6)",
        user_id, video_id, action, is_admin, list(OPEN_VISIBILITIES),
        float(TRENDING_WEIGHTS["like"]),
    )  # fmt: skip
    if row is None:
        raise NotFound("Video not found")
    return VideoReaction(
        user_action=USER_ACTION[action],
        video_id=row["id"],
        view_count=row["view_count"],
        like_count=row["like_count"],
        dislike_count=row["dislike_count"],
        comment_count=row["comment_count"],
    )


async def react_to_comment(
    pool: asyncpg.Pool, *, user_id: uuid.UUID, comment_id: uuid.UUID, action: Action
) -> CommentReaction:
    """Set the caller's reaction to a comment that is not deleted, as for videos."""
    async with pool.acquire() as conn, conn.transaction():
        locked = await conn.fetchval(
            "SELECT true FROM comments WHERE id = $1 AND NOT deleted FOR UPDATE", comment_id
        )
        if not locked:
            raise NotFound("Comment not found")
        row = await conn.fetchrow(_COMMENT_SQL, user_id, comment_id, action, "comment")
    assert row is not None
    return CommentReaction(
        user_action=USER_ACTION[action],
        comment_id=row["id"],
        video_id=row["video_id"],
        like_count=row["like_count"],
        dislike_count=row["dislike_count"],
    )


async def user_action(
    conn: asyncpg.Pool | asyncpg.Connection,
    *,
    user_id: uuid.UUID,
    target_id: uuid.UUID,
    target_type: Literal["video", "comment"],
) -> UserAction:
    action = await conn.fetchval(
        "SELECT action FROM likes WHERE user_id = $1 AND target_id = $2 AND target_type = $3",
        user_id, target_id, target_type,
    )  # fmt: skip
    return USER_ACTION[action or "remove"]
