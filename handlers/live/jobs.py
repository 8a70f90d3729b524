"""The live domain's background work: pushing viewer counts of live videos."""

from __future__ import annotations

from typing import Any

from handlers.live.service import LiveService
from jobs.context import JobContext
from jobs.registry import JobKind

PUSH_VIEWER_COUNTS = "live.viewer_counts"


def push_viewer_counts_kind(*, live: LiveService, every_seconds: float) -> JobKind:
    """Once per `every_seconds` across all workers: a `live_stream` message for each live
    video whose viewer count (presence, every node) changed since the last push."""

    async def push(ctx: JobContext, _payload: Any) -> None:
        pushed = await live.push_viewer_counts(interval_s=every_seconds)
        await ctx.progress(100, f"{pushed} counts pushed")

    return JobKind(
        name=PUSH_VIEWER_COUNTS,
        handler=push,
        every_seconds=every_seconds,
        max_attempts=1,  # the next period pushes the then-current count anyway
        timeout_seconds=max(10.0, every_seconds * 5),
    )
