"""Follows between users, and the follower/following counts they move.

Following is idempotent: the (follower, following) primary key makes a second follow a no-op
that moves no counter, even when both arrive at once (the second insert waits for the first
to commit, then conflicts). Both users' rows are locked in id order before counting, so A
following B while B follows A cannot deadlock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import asyncpg

from core.errors import NotFound
from storage.db import Conn


@dataclass(frozen=True, slots=True)
class FollowChange:
    changed: bool
    follower_count: int


@dataclass(frozen=True, slots=True)
class FollowEntry:
    id: uuid.UUID
    username: str
    display_name: str
    avatar_url: str
    follower_count: int
    followed_at: datetime


async def _lock_pair(conn: asyncpg.Connection, follower: uuid.UUID, following: uuid.UUID) -> None:
    found = await conn.fetch(
        "SELECT id FROM users WHERE id = ANY($1) ORDER BY id FOR UPDATE", [follower, following]
    )
    if following not in {row["id"] for row in found}:
        raise NotFound("User not found")
    if follower not in {row["id"] for row in found}:
        raise NotFound("Your account no longer exists")


async def follow(pool: asyncpg.Pool, *, follower: uuid.UUID, following: uuid.UUID) -> FollowChange:
    async with pool.acquire() as conn, conn.transaction():
        await _lock_pair(conn, follower, following)
        row = await conn.fetchrow(
            """WITH added AS (
                   INSERT INTO follows (follower_id, following_id) VALUES ($1, $2)
                   ON CONFLICT DO NOTHING RETURNING 1
               ), moved AS (
                   UPDATE users
                      SET follower_count = follower_count + (id = $2)::int,
                          following_count = following_count + (id = $1)::int
                    WHERE id IN ($1, $2) AND EXISTS (SELECT 1 FROM added)
                   RETURNING id, follower_count
               )
               SELECT EXISTS (SELECT 1 FROM added) AS changed,
                      coalesce((SELECT follower_count FROM moved WHERE id = $2),
                               (SELECT follower_count FROM users WHERE id = $2))
                          AS follower_count""",
            follower, following,
        )  # fmt: skip
    assert row is not None
    return FollowChange(**dict(row))


async def unfollow(
    pool: asyncpg.Pool, *, follower: uuid.UUID, following: uuid.UUID
) -> FollowChange:
    async with pool.acquire() as conn, conn.transaction():
        await _lock_pair(conn, follower, following)
        row = await conn.fetchrow(
            """WITH gone AS (
                   DELETE FROM follows WHERE follower_id = $1 AND following_id = $2 RETURNING 1
               ), moved AS (
                   UPDATE users
                      SET follower_count = follower_count - (id = $2)::int,
                          following_count = following_count - (id = $1)::int
                    WHERE id IN ($1, $2) AND EXISTS (SELECT 1 FROM gone)
                   RETURNING id, follower_count
               )
               SELECT EXISTS (SELECT 1 FROM gone) AS changed,
                      coalesce((SELECT follower_count FROM moved WHERE id = $2),
                               (SELECT follower_count FROM users WHERE id = $2))
                          AS follower_count""",
            follower, following,
        )  # fmt: skip
    assert row is not None
    return FollowChange(**dict(row))


async def is_following(conn: Conn, *, follower: uuid.UUID, following: uuid.UUID) -> bool:
    found = await conn.fetchval(
        "SELECT 1 FROM follows WHERE follower_id = $1 AND following_id = $2",
        follower, following,
    )  # fmt: skip
    return bool(found)


_ENTRY = """u.id, u.username, u.display_name, u.avatar_url, u.follower_count,
            f.created_at AS followed_at"""


Side = Literal["followers", "following"]

# For each list: the column naming the listed users, the column naming the owner, the counter.
_SIDES: dict[Side, tuple[str, str, str]] = {
    "followers": ("follower_id", "following_id", "follower_count"),
    "following": ("following_id", "follower_id", "following_count"),
}


async def list_side(
    conn: Conn, user_id: uuid.UUID, side: Side, *, page: int, limit: int
) -> tuple[list[FollowEntry], int]:
    """Who follows `user_id` ("followers") or whom it follows ("following"), most recent
    first; the total is the exact counter kept on the user's row."""
    listed, owner, counter = _SIDES[side]
    rows = await conn.fetch(
        f"""SELECT {_ENTRY} FROM follows f JOIN users u ON u.id = f.{listed}
             WHERE f.{owner} = $1 ORDER BY f.created_at DESC, u.id
             LIMIT $2 OFFSET $3""",
        user_id, limit, (page - 1) * limit,
    )  # fmt: skip
    total = await conn.fetchval(f"SELECT {counter} FROM users WHERE id = $1", user_id)
    return [FollowEntry(**dict(row)) for row in rows], total or 0
