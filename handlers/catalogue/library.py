"""Users' own catalogue data: favorites and watch history (OnStream's "User Features").

Rules: every operation acts on the caller's rows only (storage names the user in each
statement). A title is resolved through the catalogue (cache first) when it is added, and its
metadata is kept beside the row, so reading favorites or history never calls a provider.
Adding a favorite twice is one favorite; reporting progress updates the title's one history
entry in place and moves `watched_at`, then publishes `watch_progress` on `user:{id}`.
User data is never cached.
"""

from __future__ import annotations

import math
import uuid

import asyncpg

from core.errors import NotFound
from handlers.catalogue.events import LibraryEvents, WatchProgress
from handlers.catalogue.library_models import (
    FINISHED_SHARE,
    FavoriteOut,
    HistoryEntry,
    LibraryPageQuery,
)
from handlers.catalogue.models import CataloguePagination
from handlers.catalogue.service import CatalogueService
from handlers.catalogue.titles import Title, TitleRef
from storage.catalogue import library
from storage.catalogue.library import StoredTitle


def stored(title: Title) -> StoredTitle:
    return StoredTitle(
        media_type=title.type,
        tmdb_id=title.tmdb_id,
        title=title.title,
        overview=title.overview,
        poster_path=title.poster_path,
        backdrop_path=title.backdrop_path,
        release_date=title.release_date,
        genres=title.genres,
        vote_average=title.vote_average,
        runtime=title.runtime,
    )


def shown(title: StoredTitle) -> Title:
    return Title(
        id=f"{title.media_type}-{title.tmdb_id}",
        tmdb_id=title.tmdb_id,
        type="tv" if title.media_type == "tv" else "movie",
        title=title.title,
        overview=title.overview,
        poster_path=title.poster_path,
        backdrop_path=title.backdrop_path,
        release_date=title.release_date,
        genres=title.genres,
        vote_average=title.vote_average,
        runtime=title.runtime,
    )


def history_entry(entry: library.Progress) -> HistoryEntry:
    title = shown(entry.title)
    share = entry.progress_seconds / entry.runtime_seconds
    return HistoryEntry(
        id=title.id,
        movie=title,
        progress=entry.progress_seconds,
        runtime=entry.runtime_seconds,
        progress_percent=round(100 * share, 1),
        remaining_seconds=max(0.0, entry.runtime_seconds - entry.progress_seconds),
        finished=share >= FINISHED_SHARE,
        watched_at=entry.watched_at,
    )


def pagination(query: LibraryPageQuery, total: int) -> CataloguePagination:
    pages = math.ceil(total / query.limit)
    return CataloguePagination(
        current_page=query.page,
        total_pages=pages,
        total_items=total,
        has_next=query.page < pages,
        has_prev=query.page > 1,
    )


class LibraryService:
    def __init__(
        self, *, db: asyncpg.Pool, catalogue: CatalogueService, events: LibraryEvents
    ) -> None:
        self.db = db
        self.catalogue = catalogue
        self.events = events

    async def add_favorite(self, *, user_id: uuid.UUID, ref: TitleRef) -> tuple[FavoriteOut, bool]:
        """Favorite the title (idempotent): the favorite, and whether this call added it."""
        title = await self.catalogue.title(ref)
        async with self.db.acquire() as conn, conn.transaction():
            await library.save_title(conn, stored(title))
            added_at, created = await library.add_favorite(
                conn, user_id, ref.media_type, ref.tmdb_id
            )
        return FavoriteOut(id=ref.id, movie=title, added_at=added_at), created

    async def remove_favorite(self, *, user_id: uuid.UUID, ref: TitleRef) -> None:
        if not await library.remove_favorite(self.db, user_id, ref.media_type, ref.tmdb_id):
            raise NotFound("This title is not in your favorites")

    async def favorites(
        self, *, user_id: uuid.UUID, query: LibraryPageQuery
    ) -> tuple[list[FavoriteOut], CataloguePagination]:
        found, total = await library.favorites(
            self.db, user_id, limit=query.limit, offset=(query.page - 1) * query.limit
        )
        items = [
            FavoriteOut(id=shown(f.title).id, movie=shown(f.title), added_at=f.added_at)
            for f in found
        ]
        return items, pagination(query, total)

    async def record_progress(
        self,
        *,
        user_id: uuid.UUID,
        ref: TitleRef,
        progress: float,
        runtime: float,
        device_id: str | None,
    ) -> HistoryEntry:
        """Save the position and tell the user's other devices (after the commit)."""
        title = await self.catalogue.title(ref)
        async with self.db.acquire() as conn, conn.transaction():
            await library.save_title(conn, stored(title))
            watched_at = await library.record_progress(
                conn,
                user_id,
                ref.media_type,
                ref.tmdb_id,
                progress_seconds=progress,
                runtime_seconds=runtime,
            )
        entry = history_entry(library.Progress(stored(title), progress, runtime, watched_at))
        event = WatchProgress(
            movie_id=ref.id,
            tmdb_id=ref.tmdb_id,
            media_type=ref.media_type,
            progress=progress,
            runtime=runtime,
            watched_at=watched_at,
            device_id=device_id,
        )
        await self.events.progress(user_id, event)
        return entry

    async def history(
        self, *, user_id: uuid.UUID, query: LibraryPageQuery, unfinished_only: bool
    ) -> tuple[list[HistoryEntry], CataloguePagination]:
        found, total = await library.history(
            self.db,
            user_id,
            limit=query.limit,
            offset=(query.page - 1) * query.limit,
            unfinished_only=unfinished_only,
        )
        return [history_entry(e) for e in found], pagination(query, total)

    async def remove_history(self, *, user_id: uuid.UUID, ref: TitleRef) -> None:
        if not await library.remove_history(self.db, user_id, ref.media_type, ref.tmdb_id):
            raise NotFound("This title is not in your watch history")

    async def totals(self) -> dict[str, int]:
        return await library.totals(self.db)
