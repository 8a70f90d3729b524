"""Comments and replies on videos, and the counters they move.

Counters: the video's comment_count counts comments that are not deleted; a comment's
reply_count counts its direct replies that still have a row. A deleted comment with replies
keeps its row with its content emptied; one without replies is removed, and so is a deleted
parent whose last reply goes. Transactions that lock a video and comments lock the video first.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import asyncpg

from core.errors import Conflict, NotFound
from core.paging import Key, KeyTypes, Slice, Window
from storage.db import Conn
from storage.videos.videos import TRENDING_WEIGHTS

CommentSort = Literal["newest", "oldest", "top"]


@dataclass(frozen=True, slots=True)
class CommentAuthor:
    id: uuid.UUID
    username: str
    display_name: str
    avatar_url: str
    verified: bool


@dataclass(frozen=True, slots=True)
class Comment:
    id: uuid.UUID
    video_id: uuid.UUID
    user_id: uuid.UUID
    parent_comment_id: uuid.UUID | None
    content: str
    like_count: int
    dislike_count: int
    reply_count: int
    created_at: datetime
    updated_at: datetime
    edited: bool
    deleted: bool
    author: CommentAuthor
    liked: bool
    disliked: bool


# $1 is always the viewer (NULL when anonymous), for user_interaction.
_SELECT = """
    SELECT c.id, c.video_id, c.user_id, c.parent_comment_id, c.content, c.like_count,
           c.dislike_count, c.reply_count, c.created_at, c.updated_at, c.edited, c.deleted,
           u.id AS a_id, u.username AS a_username, u.display_name AS a_display_name,
           u.avatar_url AS a_avatar_url, u.verified AS a_verified,
           coalesce(l.action = 'like', false) AS liked,
           coalesce(l.action = 'dislike', false) AS disliked
      FROM comments c
      JOIN users u ON u.id = c.user_id
      LEFT JOIN likes l ON l.user_id = $1 AND l.target_id = c.id AND l.target_type = 'comment'
"""

_ORDER = {
    "newest": "c.created_at DESC, c.id DESC",
    "oldest": "c.created_at ASC, c.id ASC",
    "top": "c.like_count DESC, c.created_at DESC, c.id DESC",
}
# Keyset paging (core/paging.py): the rows after a sort key, as SQL whose placeholders take the
# key's values ($3, ...), and the types of those values. Replies read oldest first.
_AFTER = {
    "newest": "(c.created_at, c.id) < ($3::timestamptz, $4::uuid)",
    "oldest": "(c.created_at, c.id) > ($3::timestamptz, $4::uuid)",
    "top": "(c.like_count, c.created_at, c.id) < ($3::bigint, $4::timestamptz, $5::uuid)",
}
KEY_TYPES: dict[CommentSort, KeyTypes] = {
    "newest": (datetime, uuid.UUID),
    "oldest": (datetime, uuid.UUID),
    "top": (int, datetime, uuid.UUID),
}
REPLY_KEY_TYPES = KEY_TYPES["oldest"]


def _key(comment: Comment, sort: CommentSort) -> Key:
    if sort == "top":
        return (comment.like_count, comment.created_at, comment.id)
    return (comment.created_at, comment.id)


def _window_sql(window: Window, sort: CommentSort) -> tuple[str, str, list[Any]]:
    """The keyset condition (or none), the LIMIT/OFFSET clause and their values, after the
    two parameters every comment list takes (viewer, then video or parent)."""
    if window.after is None:
        return "", "LIMIT $3 OFFSET $4", [window.fetch, window.offset]
    n = 3 + len(window.after)
    return f"AND {_AFTER[sort]}", f"LIMIT ${n}", [*window.after, window.fetch]


def _comment(row: asyncpg.Record) -> Comment:
    data = dict(row)
    author = CommentAuthor(**{name: data.pop(f"a_{name}") for name in CommentAuthor.__slots__})
    return Comment(**data, author=author)


async def get(conn: Conn, comment_id: uuid.UUID, *, viewer: uuid.UUID | None = None) -> Comment:
    row = await conn.fetchrow(f"{_SELECT} WHERE c.id = $2", viewer, comment_id)
    if row is None:
        raise NotFound("Comment not found")
    return _comment(row)


async def list_for_video(
    conn: Conn,
    video_id: uuid.UUID,
    *,
    viewer: uuid.UUID | None,
    sort: CommentSort,
    window: Window,
) -> tuple[Slice[Comment], int]:
    """Top-level comments of a video (replies come from `list_replies`), and how many."""
    after, limit, values = _window_sql(window, sort)
    rows = await conn.fetch(
        f"""{_SELECT} WHERE c.video_id = $2 AND c.parent_comment_id IS NULL {after}
            ORDER BY {_ORDER[sort]} {limit}""",
        viewer, video_id, *values,
    )  # fmt: skip
    total = await conn.fetchval(
        "SELECT count(*) FROM comments WHERE video_id = $1 AND parent_comment_id IS NULL",
        video_id,
    )
    found = [(comment, _key(comment, sort)) for comment in map(_comment, rows)]
    return Slice.of(window, found), total


async def list_replies(
    conn: Conn, parent_id: uuid.UUID, *, viewer: uuid.UUID | None, window: Window
) -> tuple[Slice[Comment], int]:
    """Direct replies to a comment, oldest first (a thread reads top-down)."""
    after, limit, values = _window_sql(window, "oldest")
    rows = await conn.fetch(
        f"""{_SELECT} WHERE c.parent_comment_id = $2 {after}
            ORDER BY c.created_at ASC, c.id ASC {limit}""",
        viewer, parent_id, *values,
    )  # fmt: skip
    total = await conn.fetchval("SELECT reply_count FROM comments WHERE id = $1", parent_id)
    found = [(comment, _key(comment, "oldest")) for comment in map(_comment, rows)]
    return Slice.of(window, found), total or 0


async def create(
    pool: asyncpg.Pool,
    *,
    video_id: uuid.UUID,
    user_id: uuid.UUID,
    content: str,
    parent_id: uuid.UUID | None,
) -> Comment:
    """Add a comment (a reply when parent_id is set) and count it on the video and parent."""
    async with pool.acquire() as conn, conn.transaction():
        moved = await conn.fetchval(
            f"""UPDATE videos SET comment_count = comment_count + 1,
                       trending_score = trending_bump(
                           trending_score, {TRENDING_WEIGHTS["comment"]}, now())
                 WHERE id = $1 RETURNING true""",
            video_id,
        )
        if not moved:
            raise NotFound("Video not found")
        if parent_id is not None:
            parent_ok = await conn.fetchval(
                """UPDATE comments SET reply_count = reply_count + 1
                    WHERE id = $1 AND video_id = $2 AND NOT deleted RETURNING true""",
                parent_id, video_id,
            )  # fmt: skip
            if not parent_ok:
                # A well-formed reference this video's thread refuses: a conflict. (Not 404,
                # which would say the video in the path is missing.)
                raise Conflict(
                    "parent_comment_id is not a comment of this video",
                    field_errors={"parent_comment_id": ["No such comment on this video"]},
                )
        comment_id = await conn.fetchval(
            """INSERT INTO comments (video_id, user_id, parent_comment_id, content)
               VALUES ($1, $2, $3, $4) RETURNING id""",
            video_id, user_id, parent_id, content,
        )  # fmt: skip
        return await get(conn, comment_id, viewer=user_id)


async def edit(
    pool: asyncpg.Pool, comment_id: uuid.UUID, *, content: str, viewer: uuid.UUID | None = None
) -> Comment:
    """Replace a live comment's content and mark it edited."""
    async with pool.acquire() as conn:
        status = await conn.execute(
            """UPDATE comments SET content = $2, edited = true, updated_at = now()
                WHERE id = $1 AND NOT deleted""",
            comment_id, content,
        )  # fmt: skip
        if status == "UPDATE 0":
            raise NotFound("Comment not found")
        return await get(conn, comment_id, viewer=viewer)


@dataclass(frozen=True, slots=True)
class Deletion:
    """What a delete did: `kept` when the comment stays as an empty placeholder for replies."""

    video_id: uuid.UUID
    kept: bool
    comment_count: int


async def delete(pool: asyncpg.Pool, comment_id: uuid.UUID, *, video_id: uuid.UUID) -> Deletion:
    """Delete a comment: emptied in place if it has replies, else removed with its likes."""
    async with pool.acquire() as conn, conn.transaction():
        # Video first, then comments: the lock order every comment transaction uses.
        await conn.execute("SELECT 1 FROM videos WHERE id = $1 FOR UPDATE", video_id)
        row = await conn.fetchrow(
            """SELECT reply_count, parent_comment_id FROM comments
                WHERE id = $1 AND video_id = $2 AND NOT deleted FOR UPDATE""",
            comment_id, video_id,
        )  # fmt: skip
        if row is None:
            raise NotFound("Comment not found")
        count = await conn.fetchval(
            "UPDATE videos SET comment_count = comment_count - 1 WHERE id = $1"
            " RETURNING comment_count",
            video_id,
        )
        if row["reply_count"] > 0:
            await conn.execute(
                """UPDATE comments SET deleted = true, content = '', updated_at = now()
                    WHERE id = $1""",
                comment_id,
            )
            return Deletion(video_id=video_id, kept=True, comment_count=count)
        await _remove(conn, comment_id, row["parent_comment_id"])
        return Deletion(video_id=video_id, kept=False, comment_count=count)


async def _remove(
    conn: asyncpg.Connection, comment_id: uuid.UUID, parent_id: uuid.UUID | None
) -> None:
    """Remove a reply-less comment; then its parent too if that was a deleted, now-empty one."""
    while True:
        await conn.execute(
            "DELETE FROM likes WHERE target_type = 'comment' AND target_id = $1", comment_id
        )
        await conn.execute("DELETE FROM comments WHERE id = $1", comment_id)
        if parent_id is None:
            return
        parent = await conn.fetchrow(
            """UPDATE comments SET reply_count = reply_count - 1 WHERE id = $1
               RETURNING reply_count, deleted, parent_comment_id""",
            parent_id,
        )
        if parent is None or not (parent["deleted"] and parent["reply_count"] == 0):
            return
        comment_id, parent_id = parent_id, parent["parent_comment_id"]
