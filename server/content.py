"""Wiring of the content issue's background work: the view counter and its flusher."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from counters.views import ViewCounter, run_flusher
from server import keys

log = logging.getLogger("streamhub.content")


async def view_counter_ctx(app: web.Application) -> AsyncIterator[None]:
    """Start the view flusher after Postgres and Redis; on shutdown stop it and flush once more.

    The last flush is best effort: whatever it cannot apply stays in Redis and is recovered
    by the next node that flushes.
    """
    settings = app[keys.SETTINGS]
    counter = ViewCounter(app[keys.REDIS], dedup_window_seconds=settings.view_dedup_window_seconds)
    app[keys.VIEWS] = counter
    metrics = app.get(keys.METRICS)
    if metrics is not None:
        metrics.view_flusher_started()
    task = asyncio.create_task(
        run_flusher(
            counter,
            app[keys.DB],
            interval=settings.view_flush_interval_seconds,
            recover_after=settings.view_batch_recover_after_seconds,
            on_success=metrics.view_flush_succeeded if metrics is not None else None,
        ),
        name="view-flusher",
    )
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    try:
        await counter.flush(
            app[keys.DB], recover_after_seconds=settings.view_batch_recover_after_seconds
        )
    except Exception:
        log.exception("final view flush failed; buffered views stay in Redis")
