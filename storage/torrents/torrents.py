"""Torrents, their files and categories (migration 0050): bulk upsert by info hash, latest,
ranked search, detail.

Counts of long lists are capped at COUNT_CAP: past it a client is not paging, and counting a
million matches costs more than the page itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import asyncpg

from core.errors import NotFound
from storage.db import Conn

COUNT_CAP = 10_000
# A relevance-sorted search ranks at most this many matches, those with the most seeders.
RANKED_POOL = 1000
# Trigram word similarity for the typo fallback (pg_trgm's default, 0.6, misses a swapped pair
# of letters in a six-letter word).
FUZZY_THRESHOLD = 0.45
Sort = Literal["relevance", "seeders", "date", "size"]

_COLUMNS = """t.id, t.info_hash, t.name, t.size, t.category, t.file_count, t.seeders,
    t.leechers, t.seen_at, t.source, t.trackers, t.published_at, t.created_at, t.updated_at"""


@dataclass(frozen=True, slots=True)
class Torrent:
    id: uuid.UUID
    info_hash: str
    name: str
    size: int
    category: str
    file_count: int
    seeders: int
    leechers: int
    seen_at: datetime
    source: str
    trackers: list[str]
    published_at: datetime
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class File:
    index: int
    path: str
    size: int


@dataclass(frozen=True, slots=True)
class Incoming:
    """One torrent of an ingest batch, validated."""

    info_hash: str
    name: str
    size: int
    category: str
    seeders: int
    leechers: int
    seen_at: datetime
    source: str
    trackers: list[str]
    published_at: datetime
    files: list[File]


@dataclass(frozen=True, slots=True)
class Upserted:
    info_hash: str
    id: uuid.UUID
    created: bool


@dataclass(frozen=True, slots=True)
class Category:
    slug: str
    name: str
    torrent_count: int


def _torrent(row: asyncpg.Record) -> Torrent:
    return Torrent(**{name: row[name] for name in Torrent.__slots__})


async def category_slugs(conn: Conn) -> set[str]:
    return {row["slug"] for row in await conn.fetch("SELECT slug FROM categories")}


async def categories(conn: Conn) -> list[Category]:
    rows = await conn.fetch(
        """SELECT c.slug, c.name, count(t.id) AS torrent_count
           FROM categories c LEFT JOIN torrents t ON t.category = c.slug
           GROUP BY c.slug, c.name ORDER BY c.name"""
    )
    return [Category(**dict(row)) for row in rows]


async def upsert(pool: asyncpg.Pool, batch: Sequence[Incoming]) -> list[Upserted]:
    """Insert new torrents with their files; for known ones, take the swarm figures of a newer
    sighting (`seen_at`). Torrents that changed nothing are not returned. Info hashes must be
    unique within the batch."""
    columns: dict[str, list[Any]] = {
        name: []
        for name in ("info_hash", "name", "size", "category", "file_count", "seeders",
                     "leechers", "seen_at", "source", "trackers", "published_at", "paths")
    }  # fmt: skip
    files: dict[str, list[Any]] = {"info_hash": [], "idx": [], "path": [], "size": []}
    for item in batch:
        for name, value in (
            ("info_hash", item.info_hash), ("name", item.name), ("size", item.size),
            ("category", item.category), ("file_count", len(item.files)),
            ("seeders", item.seeders), ("leechers", item.leechers), ("seen_at", item.seen_at),
            ("source", item.source), ("trackers", "\n".join(item.trackers)),
            ("published_at", item.published_at),
            ("paths", " ".join(f.path for f in item.files)[:20_000]),
        ):  # fmt: skip
            columns[name].append(value)
        for file in item.files:
            files["info_hash"].append(item.info_hash)
            files["idx"].append(file.index)
            files["path"].append(file.path)
            files["size"].append(file.size)
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            """INSERT INTO torrents AS t (info_hash, name, size, category, file_count, seeders,
                   leechers, seen_at, source, trackers, published_at, file_words)
               SELECT i.info_hash, i.name, i.size, i.category, i.file_count, i.seeders,
                      i.leechers, i.seen_at, i.source,
                      CASE WHEN i.trackers = '' THEN '{}'::text[]
                           ELSE string_to_array(i.trackers, E'\\n') END,
                      i.published_at, torrent_words(i.paths)
               FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::int[],
                           $6::int[], $7::int[], $8::timestamptz[], $9::text[], $10::text[],
                           $11::timestamptz[], $12::text[])
                    AS i(info_hash, name, size, category, file_count, seeders, leechers,
                         seen_at, source, trackers, published_at, paths)
               ON CONFLICT (info_hash) DO UPDATE
                   SET seeders = EXCLUDED.seeders, leechers = EXCLUDED.leechers,
                       seen_at = EXCLUDED.seen_at, updated_at = now()
                   WHERE EXCLUDED.seen_at > t.seen_at
               RETURNING t.info_hash, t.id, (t.xmax = 0) AS created""",
            *columns.values(),
        )
        created = [row["info_hash"] for row in rows if row["created"]]
        if created and files["info_hash"]:
            await conn.execute(
                """INSERT INTO files (torrent_id, idx, path, size)
                   SELECT t.id, f.idx, f.path, f.size
                   FROM unnest($1::text[], $2::int[], $3::text[], $4::int8[])
                        AS f(info_hash, idx, path, size)
                   JOIN torrents t ON t.info_hash = f.info_hash
                   WHERE f.info_hash = ANY($5::text[])""",
                *files.values(), created,
            )  # fmt: skip
    return [Upserted(row["info_hash"], row["id"], row["created"]) for row in rows]


async def get(conn: Conn, torrent_id: uuid.UUID) -> tuple[Torrent, list[File]]:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM torrents t WHERE t.id = $1", torrent_id)
    if row is None:
        raise NotFound("Torrent not found")
    files = await conn.fetch(
        "SELECT idx, path, size FROM files WHERE torrent_id = $1 ORDER BY idx", torrent_id
    )
    return _torrent(row), [File(r["idx"], r["path"], r["size"]) for r in files]


@dataclass(frozen=True, slots=True)
class Filters:
    category: str | None = None
    min_seeders: int | None = None
    min_size: int | None = None
    max_size: int | None = None


class _Query:
    """A WHERE clause and its parameters, built one condition at a time."""

    def __init__(self) -> None:
        self.args: list[Any] = []
        self.where: list[str] = []

    def arg(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def filters(self, filters: Filters) -> None:
        if filters.category is not None:
            self.where.append(f"t.category = {self.arg(filters.category)}")
        if filters.min_seeders is not None:
            self.where.append(f"t.seeders >= {self.arg(filters.min_seeders)}")
        if filters.min_size is not None:
            self.where.append(f"t.size >= {self.arg(filters.min_size)}")
        if filters.max_size is not None:
            self.where.append(f"t.size <= {self.arg(filters.max_size)}")

    @property
    def clause(self) -> str:
        return " AND ".join(self.where) or "true"


async def _page(
    conn: Conn, query: _Query, *, rank: str, order: str, limit: int, offset: int
) -> tuple[list[Torrent], int]:
    """One page of the rows `query` matches. A relevance order ranks only the RANKED_POOL
    matches with the most seeders (or as many as the page reaches): ranking every match of a
    common word would read a quarter of a million rows for twenty."""
    count_args = list(query.args)
    if order.startswith("rank"):
        pool = query.arg(max(RANKED_POOL, offset + limit))
        sql = f"""SELECT *, {rank} AS rank FROM (
                      SELECT {_COLUMNS}, t.search FROM torrents t WHERE {query.clause}
                      ORDER BY t.seeders DESC, t.id LIMIT {pool}) AS t
                  ORDER BY {order} LIMIT {query.arg(limit)} OFFSET {query.arg(offset)}"""
    else:
        sql = f"""SELECT {_COLUMNS}, {rank} AS rank FROM torrents t WHERE {query.clause}
                  ORDER BY {order} LIMIT {query.arg(limit)} OFFSET {query.arg(offset)}"""
    rows = await conn.fetch(sql, *query.args)
    total = await conn.fetchval(
        f"SELECT count(*) FROM (SELECT 1 FROM torrents t WHERE {query.clause}"
        f" LIMIT {COUNT_CAP}) AS capped",
        *count_args,
    )
    return [_torrent(row) for row in rows], int(total or 0)


async def latest(
    conn: Conn, filters: Filters, *, limit: int, offset: int
) -> tuple[list[Torrent], int]:
    query = _Query()
    query.filters(filters)
    return await _page(
        conn, query, rank="0", order="t.published_at DESC, t.id DESC", limit=limit, offset=offset
    )


_ORDERS = {
    "relevance": "rank DESC, t.seeders DESC, t.id",
    "seeders": "t.seeders DESC, t.id",
    "date": "t.published_at DESC, t.id DESC",
    "size": "t.size DESC, t.id",
}


async def search(
    pool: asyncpg.Pool, text: str, filters: Filters, *, sort: Sort, limit: int, offset: int
) -> tuple[list[Torrent], int, bool]:
    """Torrents matching the words of `text` (all of them, name weighing over file paths),
    ranked; when none does, torrents whose name has words close to them (typos). Returns the
    page, the (capped) total and whether the fuzzy fallback answered."""
    query = _Query()
    words = query.arg(text)
    query.where.append(f"t.search @@ websearch_to_tsquery('simple', torrent_words({words}))")
    query.filters(filters)
    rank = f"ts_rank_cd(t.search, websearch_to_tsquery('simple', torrent_words({words})))"
    found, total = await _page(
        pool, query, rank=rank, order=_ORDERS[sort], limit=limit, offset=offset
    )
    if total:
        return found, total, False
    fuzzy = _Query()
    words = fuzzy.arg(text)
    fuzzy.where.append(f"torrent_words({words}) <% torrent_words(t.name)")
    fuzzy.filters(filters)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f"SET LOCAL pg_trgm.word_similarity_threshold = {FUZZY_THRESHOLD}")
        found, total = await _page(
            conn,
            fuzzy,
            rank=f"word_similarity(torrent_words({words}), torrent_words(t.name))",
            order=_ORDERS[sort],
            limit=limit,
            offset=offset,
        )
    return found, total, True


async def delete(conn: Conn, torrent_id: uuid.UUID) -> None:
    if await conn.execute("DELETE FROM torrents WHERE id = $1", torrent_id) == "DELETE 0":
        raise NotFound("Torrent not found")


async def rename(conn: Conn, torrent_id: uuid.UUID, *, name: str, category: str) -> None:
    status = await conn.execute(
        "UPDATE torrents SET name = $2, category = $3, updated_at = now() WHERE id = $1",
        torrent_id, name, category,
    )  # fmt: skip
    if status == "UPDATE 0":
        raise NotFound("Torrent not found")
