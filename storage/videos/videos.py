"""Videos: CLUTCH's video documents, their lists, and the counters that live on them.

Counters (view, like, dislike, comment counts and the author's totals) only move inside SQL
(`SET n = n + $d`), in the transaction that changes the row they count. Every transaction
that locks both a video and a user locks the video first, so they cannot deadlock.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import asyncpg

from core.errors import NotFound
from core.paging import Key, KeyTypes, Slice, Window
from storage.db import Conn

Sort = Literal["latest", "popular", "trending", "relevance"]

# What an author sets; the rest of a video is counters and processing state.
AUTHOR_FIELDS = frozenset(
    {
        "title",
        "description",
        "video_url",
        "thumbnail_url",
        "duration",
        "tags",
        "category",
        "visibility",
    }
)

# A video anyone may open by id (when ready); the others only its author and admins see.
OPEN_VISIBILITIES = ("public", "unlisted")

# Engagement weights of the trending score (see trending_bump in migration 0002).
TRENDING_WEIGHTS = {"publish": 1, "view": 1, "like": 3, "comment": 5}


@dataclass(frozen=True, slots=True)
class Author:
    id: uuid.UUID
    username: str
    display_name: str
    avatar_url: str
    follower_count: int
    verified: bool


@dataclass(frozen=True, slots=True)
class Video:
    id: uuid.UUID
    title: str
    description: str
    thumbnail_url: str
    video_url: str
    duration: int
    view_count: int
    like_count: int
    dislike_count: int
    comment_count: int
    tags: list[str]
    category: str
    visibility: str
    processing_status: str
    quality_variants: dict[str, str]
    watch_time_seconds: float
    retention_curve: list[float]
    trending_score: float
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime
    author: Author

    def visible_to(self, user_id: uuid.UUID | None, role: str | None) -> bool:
        """Public and unlisted ready videos open by id; the rest only for the author and admins."""
        if user_id == self.author.id or role == "admin":
            return True
        return self.visibility in OPEN_VISIBILITIES and self.processing_status == "ready"


@dataclass(frozen=True, slots=True)
class Counts:
    """A video's counters after a change, as a `video_update` event carries them."""

    video_id: uuid.UUID
    view_count: int
    like_count: int
    dislike_count: int
    comment_count: int


# The columns are derived from the dataclasses, in their order, so `_video` can build both by
# position: about a third of the cost of `dict(row)` plus keywords, on a 20-video page.
_VIDEO_FIELDS = [f.name for f in dataclasses.fields(Video) if f.name != "author"]
_AUTHOR_FIELDS = [f.name for f in dataclasses.fields(Author)]
_VIDEO_COLUMNS = ", ".join(
    [f"v.{name}" for name in _VIDEO_FIELDS] + [f"u.{name} AS a_{name}" for name in _AUTHOR_FIELDS]
)
_SPLIT = len(_VIDEO_FIELDS)

_FROM = "FROM videos v JOIN users u ON u.id = v.author_id"
_SELECT = f"SELECT {_VIDEO_COLUMNS} {_FROM}"

# Lists show exactly what the partial list indexes cover.
LISTED = "v.visibility = 'public' AND v.processing_status = 'ready'"

_ORDER = {
    "latest": "v.published_at DESC, v.id DESC",
    "popular": "v.view_count DESC, v.id DESC",
    "trending": "v.trending_score DESC, v.id DESC",
}
# Keyset paging (core/paging.py): each sort's key, as SQL compared with the key after which a
# page starts (every sort is descending, so "after" is "<"), and as the types of its values.
# Listed videos are ready, and ready videos are published, so published_at is never NULL.
_AFTER = {
    "latest": "(v.published_at, v.id) < ({}::timestamptz, {}::uuid)",
    "popular": "(v.view_count, v.id) < ({}::bigint, {}::uuid)",
    "trending": "(v.trending_score, v.id) < ({}::float8, {}::uuid)",
    "relevance": "(ts_rank_cd(v.search, tsq), v.published_at, v.id)"
    " < ({}::real, {}::timestamptz, {}::uuid)",
}
KEY_TYPES: dict[Sort, KeyTypes] = {
    "latest": (datetime, uuid.UUID),
    "popular": (int, uuid.UUID),
    "trending": (float, uuid.UUID),
    "relevance": (float, datetime, uuid.UUID),
}
_AUTHOR_END = _SPLIT + len(_AUTHOR_FIELDS)


def _video(row: asyncpg.Record) -> Video:
    return Video(*row[:_SPLIT], Author(*row[_SPLIT:_AUTHOR_END]))  # type: ignore[call-arg]


def _key(video: Video, row: asyncpg.Record, sort: Sort) -> Key:
    """The sort key of a listed video (`row` carries the search rank for "relevance")."""
    if sort == "popular":
        return (video.view_count, video.id)
    if sort == "trending":
        return (video.trending_score, video.id)
    assert video.published_at is not None, "listed videos are published"
    if sort == "relevance":
        return (row["rank"], video.published_at, video.id)
    return (video.published_at, video.id)


async def get(conn: Conn, video_id: uuid.UUID) -> Video:
    row = await conn.fetchrow(f"{_SELECT} WHERE v.id = $1", video_id)
    if row is None:
        raise NotFound("Video not found")
    return _video(row)


@dataclass(frozen=True, slots=True)
class ListFilter:
    category: str | None = None
    tags: list[str] | None = None
    q: str | None = None
    followed_by: uuid.UUID | None = None


def list_sql(where: ListFilter, sort: Sort, *, keyset: bool = False) -> tuple[str, str, list[Any]]:
    """The page query and the count query of a list, and their shared parameters.

    Every filter and sort is served by an index of migration 0002 (the partial list indexes,
    GIN on tags and on the search vector), so a page never sorts the whole table. The SQL
    text depends only on which filters are present, never on their values, so asyncpg's
    prepared-statement cache serves every request after the first of each shape.

    The page query takes, after the shared parameters, the values of the sort key to start
    after (`keyset`: one per part of KEY_TYPES[sort]), then LIMIT and OFFSET.
    """
    params: list[Any] = []

    def param(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    clauses = [LISTED]
    search = ""  # the parsed query, once per statement, as a FROM item
    if where.q:
        search = f", websearch_to_tsquery('english', {param(where.q)}) AS tsq"
        clauses.append("v.search @@ tsq")
    if where.category:
        clauses.append(f"v.category = {param(where.category)}")
    if where.tags:
        clauses.append(f"v.tags && {param(where.tags)}::text[]")
    if where.followed_by:
        clauses.append(
            "v.author_id IN (SELECT following_id FROM follows"
            f" WHERE follower_id = {param(where.followed_by)})"
        )
    condition = " AND ".join(clauses)
    count = f"SELECT count(*) FROM videos v{search} WHERE {condition}"
    if sort == "relevance" and not where.q:
        sort = "latest"
    n = len(params)
    if keyset:
        key_params = [f"${n + 1 + i}" for i in range(len(KEY_TYPES[sort]))]
        condition += " AND " + _AFTER[sort].format(*key_params)
        n += len(key_params)
    window = f"LIMIT ${n + 1} OFFSET ${n + 2}"
    if sort == "relevance":
        # Rank the matches on `videos` alone and join the page's 20 authors afterwards:
        # joining first fetched an author for every match (2.4x slower with EXPLAIN ANALYZE
        # on 5,000 videos, for a word that matches 1,900 of them).
        page = f"""SELECT {_VIDEO_COLUMNS}, hit.rank FROM (
                SELECT v.id, ts_rank_cd(v.search, tsq) AS rank FROM videos v{search}
                WHERE {condition}
                ORDER BY rank DESC, v.published_at DESC, v.id DESC {window}
            ) AS hit JOIN videos v ON v.id = hit.id JOIN users u ON u.id = v.author_id
            ORDER BY hit.rank DESC, v.published_at DESC, v.id DESC"""
    else:
        page = f"{_SELECT}{search} WHERE {condition} ORDER BY {_ORDER[sort]} {window}"
    return page, count, params


async def list_rows(conn: Conn, where: ListFilter, *, sort: Sort, window: Window) -> Slice[Video]:
    """One page of listed videos matching the filter."""
    if sort == "relevance" and not where.q:
        sort = "latest"
    keyset = window.after is not None
    page_sql, _, params = list_sql(where, sort, keyset=keyset)
    after = list(window.after or ())
    rows = await conn.fetch(page_sql, *params, *after, window.fetch, window.offset)
    found = []
    for row in rows:
        video = _video(row)
        found.append((video, _key(video, row, sort)))
    return Slice.of(window, found)


async def count_listed(conn: Conn, where: ListFilter) -> int:
    """How many listed videos match the filter (a scan of every match: cache it)."""
    _, count_sql, params = list_sql(where, "latest")
    total: int = await conn.fetchval(count_sql, *params)
    return total


async def list_page(
    conn: Conn, where: ListFilter, *, sort: Sort, window: Window
) -> tuple[Slice[Video], int]:
    """One page of listed videos and the number of listed videos matching the filter."""
    found = await list_rows(conn, where, sort=sort, window=window)
    total = known_total(found, window)
    return found, total if total is not None else await count_listed(conn, where)


def known_total(found: Slice[Video], window: Window) -> int | None:
    """The total when a page by number proves it (a short page that is not past the end)."""
    if window.after is not None:
        return None
    if len(found.items) < window.limit and (found.items or window.offset == 0):
        return window.offset + len(found.items)
    return None


async def create(conn: asyncpg.Pool, *, author_id: uuid.UUID, fields: dict[str, Any]) -> Video:
    """Insert a video; with a video_url it is ready and published at once."""
    values = {name: fields[name] for name in AUTHOR_FIELDS if name in fields}
    ready = bool(values.get("video_url"))
    columns = list(values)
    placeholders = ", ".join(f"${i + 3}" for i in range(len(columns)))
    async with conn.acquire() as c, c.transaction():
        video_id = await c.fetchval(
            f"""INSERT INTO videos (author_id, processing_status, published_at, trending_score
                                    {"".join(", " + col for col in columns)})
                VALUES ($1, CASE WHEN $2 THEN 'ready' ELSE 'uploaded' END,
                        CASE WHEN $2 THEN now() END,
                        trending_bump(NULL, {TRENDING_WEIGHTS["publish"]}, now())
                        {", " + placeholders if columns else ""})
                RETURNING id""",
            author_id, ready, *values.values(),
        )  # fmt: skip
        await c.execute("UPDATE users SET total_videos = total_videos + 1 WHERE id = $1", author_id)
        return await get(c, video_id)


async def update(conn: Conn, video_id: uuid.UUID, changes: dict[str, Any]) -> Video:
    """Change author-set fields; a video that gains a video_url becomes ready and published."""
    values = {name: changes[name] for name in AUTHOR_FIELDS if name in changes}
    sets = [f"{name} = ${i + 2}" for i, name in enumerate(values)]
    if values.get("video_url"):
        sets.append("processing_status = 'ready'")
        sets.append("published_at = coalesce(published_at, now())")
    sets.append("updated_at = now()")
    status = await conn.execute(
        f"UPDATE videos SET {', '.join(sets)} WHERE id = $1", video_id, *values.values()
    )
    if status == "UPDATE 0":
        raise NotFound("Video not found")
    return await get(conn, video_id)


async def delete(conn: asyncpg.Pool, video_id: uuid.UUID) -> None:
    """Delete a video, its comments and every like on either; take its counts off the author."""
    async with conn.acquire() as c, c.transaction():
        row = await c.fetchrow(
            "SELECT author_id, view_count, like_count FROM videos WHERE id = $1 FOR UPDATE",
            video_id,
        )
        if row is None:
            raise NotFound("Video not found")
        # Lock the comments before deleting their likes: a comment like waiting on a comment
        # row must find it gone, not commit a like between our two deletes (an orphan row).
        await c.execute(
            "SELECT 1 FROM comments WHERE video_id = $1 ORDER BY id FOR UPDATE", video_id
        )
        await c.execute(
            """DELETE FROM likes
               WHERE (target_type = 'video' AND target_id = $1)
                  OR (target_type = 'comment'
                      AND target_id IN (SELECT id FROM comments WHERE video_id = $1))""",
            video_id,
        )
        await c.execute("DELETE FROM videos WHERE id = $1", video_id)  # comments cascade
        await c.execute(
            """UPDATE users SET total_videos = total_videos - 1,
                                total_views = greatest(total_views - $2, 0),
                                total_likes_received = greatest(total_likes_received - $3, 0)
               WHERE id = $1""",
            row["author_id"], row["view_count"], row["like_count"],
        )  # fmt: skip


async def counts(conn: Conn, video_id: uuid.UUID) -> Counts:
    row = await conn.fetchrow(
        "SELECT id AS video_id, view_count, like_count, dislike_count, comment_count"
        " FROM videos WHERE id = $1",
        video_id,
    )
    if row is None:
        raise NotFound("Video not found")
    return Counts(**dict(row))


async def apply_views(
    conn: asyncpg.Pool,
    *,
    batch_id: str,
    views: dict[uuid.UUID, int],
    watch_seconds: dict[uuid.UUID, float],
) -> bool:
    """Add a batch of buffered views and watch time, exactly once per batch_id.

    Returns False when the batch was already applied (a retry after a crash). Videos deleted
    since are skipped. Rows are locked in id order, then authors in id order, so two nodes
    flushing overlapping batches cannot deadlock with each other or with likes.
    """
    ids = sorted(set(views) | set(watch_seconds))
    async with conn.acquire() as c, c.transaction():
        fresh = await c.fetchval(
            "INSERT INTO view_flush_batches (batch_id) VALUES ($1)"
            " ON CONFLICT DO NOTHING RETURNING true",
            batch_id,
        )
        if not fresh:
            return False
        await c.execute("SELECT 1 FROM videos WHERE id = ANY($1) ORDER BY id FOR UPDATE", ids)
        per_author = await c.fetch(
            f"""WITH moved AS (
                    UPDATE videos v
                       SET view_count = v.view_count + d.n,
                           watch_time_seconds = v.watch_time_seconds + d.w,
                           trending_score = trending_bump(
                               v.trending_score, d.n * {TRENDING_WEIGHTS["view"]}, now())
                      FROM unnest($1::uuid[], $2::bigint[], $3::float8[]) AS d(id, n, w)
                     WHERE v.id = d.id
                    RETURNING v.author_id, d.n
                )
                SELECT author_id, sum(n)::bigint AS n FROM moved GROUP BY author_id
                ORDER BY author_id""",
            ids, [views.get(i, 0) for i in ids], [watch_seconds.get(i, 0.0) for i in ids],
        )  # fmt: skip
        authors = [row["author_id"] for row in per_author]
        await c.execute("SELECT 1 FROM users WHERE id = ANY($1) ORDER BY id FOR UPDATE", authors)
        await c.execute(
            """UPDATE users u SET total_views = u.total_views + d.n
                 FROM unnest($1::uuid[], $2::bigint[]) AS d(id, n) WHERE u.id = d.id""",
            authors, [row["n"] for row in per_author],
        )  # fmt: skip
    return True


async def prune_flush_batches(conn: Conn, *, older_than_seconds: float = 86400) -> None:
    await conn.execute(
        "DELETE FROM view_flush_batches WHERE applied_at < now() - make_interval(secs => $1)",
        older_than_seconds,
    )
