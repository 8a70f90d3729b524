"""The videos domain's background work: flushing buffered views into Postgres."""

from __future__ import annotations

from typing import Any

import asyncpg

from handlers.videos.view_buffer import ViewBuffer
from jobs.context import JobContext
from jobs.registry import JobKind

FLUSH_VIEWS = "views.flush"


def flush_views_kind(
    *, views: ViewBuffer, pool: asyncpg.Pool, every_seconds: float, recover_after_seconds: float
) -> JobKind:
    """Once per `every_seconds` across all workers: apply the buffered views.

    Safe to repeat (batch ids are recorded, handlers/videos/view_buffer.py), so a failed
    flush is not retried on its own: the next period's flush picks up what is left.
    """

    async def flush(ctx: JobContext, _payload: Any) -> None:
        applied = await views.flush(pool, recover_after_seconds=recover_after_seconds)
        await ctx.progress(100, f"{applied} batches applied")

    return JobKind(
        name=FLUSH_VIEWS,
        handler=flush,
        every_seconds=every_seconds,
        max_attempts=1,
        timeout_seconds=max(30.0, every_seconds),
    )
