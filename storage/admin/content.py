"""What the admin dashboard lists: every video and comment, whoever can see it, newest first."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from storage.db import Conn, contains_pattern


@dataclass(frozen=True, slots=True)
class VideoRow:
    id: uuid.UUID
    title: str
    author: str
    visibility: str
    processing_status: str
    view_count: int
    like_count: int
    comment_count: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CommentRow:
    id: uuid.UUID
    content: str
    author: str
    video_id: uuid.UUID
    video_title: str
    deleted: bool
    created_at: datetime


async def videos(
    conn: Conn, *, q: str | None, limit: int, offset: int
) -> tuple[list[VideoRow], int]:
    where, args = "true", []
    if q:
        where, args = "(v.title ILIKE $1 OR u.username ILIKE $1)", [contains_pattern(q)]
    rows = await conn.fetch(
        f"""SELECT v.id, v.title, u.username AS author, v.visibility, v.processing_status,
                   v.view_count, v.like_count, v.comment_count, v.created_at
            FROM videos v JOIN users u ON u.id = v.author_id WHERE {where}
            ORDER BY v.created_at DESC, v.id DESC LIMIT {limit} OFFSET {offset}""",
        *args,
    )
    total = await conn.fetchval(
        f"SELECT count(*) FROM videos v JOIN users u ON u.id = v.author_id WHERE {where}", *args
    )
    return [VideoRow(**dict(row)) for row in rows], int(total or 0)


async def comments(
    conn: Conn, *, q: str | None, limit: int, offset: int
) -> tuple[list[CommentRow], int]:
    where, args = "true", []
    if q:
        where, args = "(c.content ILIKE $1 OR u.username ILIKE $1)", [contains_pattern(q)]
    rows = await conn.fetch(
        f"""SELECT c.id, c.content, u.username AS author, c.video_id, v.title AS video_title,
                   c.deleted, c.created_at
            FROM comments c JOIN users u ON u.id = c.user_id JOIN videos v ON v.id = c.video_id
            WHERE {where}
            ORDER BY c.created_at DESC, c.id DESC LIMIT {limit} OFFSET {offset}""",
        *args,
    )
    total = await conn.fetchval(
        f"SELECT count(*) FROM comments c JOIN users u ON u.id = c.user_id WHERE {where}", *args
    )
    return [CommentRow(**dict(row)) for row in rows], int(total or 0)
