"""The catalogue's background work: warming the lists every client opens (OnStream's
"Background tasks for cache warming")."""

from __future__ import annotations

from typing import Any

from handlers.catalogue.service import CatalogueService
from jobs.context import JobContext
from jobs.registry import JobKind

WARM = "catalogue.warm"


def warm_kind(*, catalogue: CatalogueService, every_seconds: float, pages: int) -> JobKind:
    """Once per `every_seconds` across all workers: refetch trending (day and week; all, movies,
    shows), the first `pages` popular pages of movies and shows, and both genre lists, so
    they are replaced well before their TTL and no request waits on the provider for them.

    Idempotent (it only rewrites cache entries). A provider outage leaves the old entries in
    place (served stale past their TTL); the next period tries again, so a failed run is not
    retried on its own."""

    async def warm(ctx: JobContext, _payload: Any) -> None:
        done = await catalogue.warm(list_pages=pages)
        await ctx.progress(100, f"{done} lists refreshed")

    return JobKind(
        name=WARM,
        handler=warm,
        every_seconds=every_seconds,
        max_attempts=1,
        timeout_seconds=max(60.0, min(every_seconds, 600.0)),
    )
