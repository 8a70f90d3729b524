"""Users' favorites and watch history, with the titles they point at (migration 0040).

Every function names the user it acts for in its WHERE clause: no statement here reads or
changes another user's rows, whatever ids a caller passes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from storage.db import Conn


@dataclass(frozen=True, slots=True)
class StoredTitle:
    media_type: str
    tmdb_id: int
    title: str
    overview: str
    poster_path: str | None
    backdrop_path: str | None
    release_date: str | None
    genres: list[str]
    vote_average: float
    runtime: int | None


@dataclass(frozen=True, slots=True)
class Favorite:
    title: StoredTitle
    added_at: datetime


@dataclass(frozen=True, slots=True)
class Progress:
    title: StoredTitle
    progress_seconds: float
    runtime_seconds: float
    watched_at: datetime


_TITLE = """t.media_type, t.tmdb_id, t.title, t.overview, t.poster_path, t.backdrop_path,
            t.release_date, t.genres, t.vote_average, t.runtime"""


def _title(row: asyncpg.Record) -> StoredTitle:
    return StoredTitle(
        media_type=row["media_type"],
        tmdb_id=row["tmdb_id"],
        title=row["title"],
        overview=row["overview"],
        poster_path=row["poster_path"],
        backdrop_path=row["backdrop_path"],
        release_date=row["release_date"],
        genres=list(row["genres"]),
        vote_average=float(row["vote_average"]),
        runtime=row["runtime"],
    )


async def save_title(conn: Conn, title: StoredTitle) -> None:
    """Insert or refresh the title's metadata (the catalogue's latest)."""
    await conn.execute(
        """INSERT INTO catalogue_titles AS t (media_type, tmdb_id, title, overview, poster_path,
               backdrop_path, release_date, genres, vote_average, runtime)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (media_type, tmdb_id) DO UPDATE SET
               title = EXCLUDED.title, overview = EXCLUDED.overview,
               poster_path = EXCLUDED.poster_path, backdrop_path = EXCLUDED.backdrop_path,
               release_date = EXCLUDED.release_date, genres = EXCLUDED.genres,
               vote_average = EXCLUDED.vote_average,
               runtime = coalesce(EXCLUDED.runtime, t.runtime), updated_at = now()""",
        title.media_type, title.tmdb_id, title.title, title.overview, title.poster_path,
        title.backdrop_path, title.release_date, title.genres, title.vote_average, title.runtime,
    )  # fmt: skip


async def add_favorite(
    conn: Conn, user_id: uuid.UUID, media_type: str, tmdb_id: int
) -> tuple[datetime, bool]:
    """Add (idempotent): when it was added, and whether this call added it."""
    added = await conn.fetchval(
        """INSERT INTO favorites (user_id, media_type, tmdb_id) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING RETURNING created_at""",
        user_id, media_type, tmdb_id,
    )  # fmt: skip
    if added is not None:
        return added, True
    existing = await conn.fetchval(
        """SELECT created_at FROM favorites
           WHERE user_id = $1 AND media_type = $2 AND tmdb_id = $3""",
        user_id, media_type, tmdb_id,
    )  # fmt: skip
    return existing, False


async def remove_favorite(conn: Conn, user_id: uuid.UUID, media_type: str, tmdb_id: int) -> bool:
    status = await conn.execute(
        "DELETE FROM favorites WHERE user_id = $1 AND media_type = $2 AND tmdb_id = $3",
        user_id, media_type, tmdb_id,
    )  # fmt: skip
    return bool(status != "DELETE 0")


async def favorites(
    conn: Conn, user_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[list[Favorite], int]:
    """One page of the user's favorites, newest first, and their number."""
    rows = await conn.fetch(
        f"""SELECT {_TITLE}, f.created_at, count(*) OVER () AS total
            FROM favorites f JOIN catalogue_titles t USING (media_type, tmdb_id)
            WHERE f.user_id = $1
            ORDER BY f.created_at DESC, f.media_type, f.tmdb_id LIMIT $2 OFFSET $3""",
        user_id, limit, offset,
    )  # fmt: skip
    total = rows[0]["total"] if rows else await _count(conn, "favorites", user_id)
    return [Favorite(_title(r), r["created_at"]) for r in rows], int(total)


async def record_progress(
    conn: Conn,
    user_id: uuid.UUID,
    media_type: str,
    tmdb_id: int,
    *,
    progress_seconds: float,
    runtime_seconds: float,
) -> datetime:
    """Set the user's position in the title (one row per title); the new `watched_at`."""
    watched_at: datetime = await conn.fetchval(
        """INSERT INTO watch_history AS h
               (user_id, media_type, tmdb_id, progress_seconds, runtime_seconds)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (user_id, media_type, tmdb_id) DO UPDATE SET
               progress_seconds = EXCLUDED.progress_seconds,
               runtime_seconds = EXCLUDED.runtime_seconds,
               watched_at = greatest(now(), h.watched_at + interval '1 microsecond')
           RETURNING watched_at""",
        user_id, media_type, tmdb_id, progress_seconds, runtime_seconds,
    )  # fmt: skip
    return watched_at


async def history(
    conn: Conn, user_id: uuid.UUID, *, limit: int, offset: int, unfinished_only: bool = False
) -> tuple[list[Progress], int]:
    """One page of the user's history, most recently watched first, and its length;
    `unfinished_only`: titles not watched to 95% ("continue watching")."""
    rows = await conn.fetch(
        f"""SELECT {_TITLE}, h.progress_seconds, h.runtime_seconds, h.watched_at,
                   count(*) OVER () AS total
            FROM watch_history h JOIN catalogue_titles t USING (media_type, tmdb_id)
            WHERE h.user_id = $1
              AND (NOT $4 OR h.progress_seconds < 0.95 * h.runtime_seconds)
            ORDER BY h.watched_at DESC, h.media_type, h.tmdb_id LIMIT $2 OFFSET $3""",
        user_id, limit, offset, unfinished_only,
    )  # fmt: skip
    if rows:
        total = rows[0]["total"]
    else:
        total = await _count(conn, "watch_history", user_id) if not unfinished_only else 0
    entries = [
        Progress(_title(r), r["progress_seconds"], r["runtime_seconds"], r["watched_at"])
        for r in rows
    ]
    return entries, int(total)


async def remove_history(conn: Conn, user_id: uuid.UUID, media_type: str, tmdb_id: int) -> bool:
    status = await conn.execute(
        "DELETE FROM watch_history WHERE user_id = $1 AND media_type = $2 AND tmdb_id = $3",
        user_id, media_type, tmdb_id,
    )  # fmt: skip
    return bool(status != "DELETE 0")


async def _count(conn: Conn, table: str, user_id: uuid.UUID) -> int:
    # `table` is one of two literals above, never input.
    return int(await conn.fetchval(f"SELECT count(*) FROM {table} WHERE user_id = $1", user_id))


async def totals(conn: Conn) -> dict[str, int]:
    """Admin figures: users, favorites, history entries, titles kept."""
    row = await conn.fetchrow(
        """SELECT (SELECT count(*) FROM users) AS users,
                  (SELECT count(*) FROM favorites) AS favorites,
                  (SELECT count(*) FROM watch_history) AS history_entries,
                  (SELECT count(*) FROM catalogue_titles) AS titles_stored"""
    )
    assert row is not None
    return {key: int(value) for key, value in row.items()}
