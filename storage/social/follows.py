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
from typing import Any, Literal

import asyncpg

from core.errors import NotFound
from core.paging import KeyTypes, Slice, Window
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


# Keyset paging (core/paging.py): entries are ordered by when the follow was made, then by the
# listed user's id; a page by cursor starts after that pair.
KEY_TYPES: KeyTypes = (datetime, uuid.UUID)

# Whether the viewer ($2, NULL when anonymous; $3 true for admins) may see the profile of the
# listed user `u`: the rule of handlers/social/service.py `may_see_profile`, in SQL, so that a
# page is filled with entries the viewer may see. A `followers` profile is open to anyone who
# follows it. NULL, not false, for a hidden user and an anonymous viewer: negate it with
# `IS NOT TRUE`.
_PROFILE_VISIBLE = """(
    $3 OR u.id = $2
    OR coalesce(u.settings #>> '{privacy,profile_visibility}', 'public') = 'public'
    OR (u.settings #>> '{privacy,profile_visibility}' = 'followers'
        AND EXISTS (SELECT 1 FROM follows mine
                     WHERE mine.follower_id = $2 AND mine.following_id = u.id))
)"""


async def list_side(
    conn: Conn,
    user_id: uuid.UUID,
    side: Side,
    *,
    viewer: uuid.UUID | None,
    viewer_is_admin: bool,
    window: Window,
) -> tuple[Slice[FollowEntry], int]:
    """Who follows `user_id` ("followers") or whom it follows ("following"), most recent
    first, leaving out users whose profile `viewer` may not see.

    The total is the counter kept on the user's row (exact, one row read) less the entries
    hidden from this viewer, which are counted among the listed users whose profile is not
    public (the only ones that can be hidden).
    """
    listed, owner, counter = _SIDES[side]
    values: list[Any]
    if window.after is None:
        after, limit, values = "", "LIMIT $4 OFFSET $5", [window.fetch, window.offset]
    else:
        after = f"AND (f.created_at, f.{listed}) < ($4::timestamptz, $5::uuid)"
        limit, values = "LIMIT $6", [*window.after, window.fetch]
    rows = await conn.fetch(
        f"""SELECT {_ENTRY} FROM follows f JOIN users u ON u.id = f.{listed}
             WHERE f.{owner} = $1 AND {_PROFILE_VISIBLE} {after}
             ORDER BY f.created_at DESC, f.{listed} DESC {limit}""",
        user_id, viewer, viewer_is_admin, *values,
    )  # fmt: skip
    total = await conn.fetchval(
        f"""SELECT {counter} - (
                SELECT count(*) FROM follows f JOIN users u ON u.id = f.{listed}
                 WHERE f.{owner} = $1
                   AND coalesce(u.settings #>> '{{privacy,profile_visibility}}', 'public')
                       <> 'public'
                   AND {_PROFILE_VISIBLE} IS NOT TRUE)
              FROM users WHERE id = $1""",
        user_id, viewer, viewer_is_admin,
    )  # fmt: skip
    found = [FollowEntry(**dict(row)) for row in rows]
    return Slice.of(window, [(entry, (entry.followed_at, entry.id)) for entry in found]), total or 0
