"""Job kinds that look after the job tables themselves."""

from __future__ import annotations

from typing import Any

from jobs.context import JobContext
from jobs.registry import JobKind
from storage import jobs

PRUNE_KIND = "jobs.prune"
# Rows deleted per statement: short transactions, however many done jobs piled up.
PRUNE_BATCH = 5_000


def prune_kind(*, retention_seconds: float, every_seconds: float = 3600.0) -> JobKind:
    """A periodic kind that deletes done jobs finished more than `retention_seconds` ago."""

    async def prune(ctx: JobContext, _payload: Any) -> None:
        deleted = 0
        while True:
            batch = await jobs.prune(
                ctx.pool, older_than_seconds=retention_seconds, limit=PRUNE_BATCH
            )
            deleted += batch
            if batch < PRUNE_BATCH:
                await ctx.progress(100, f"{deleted} done jobs deleted")
                return

    return JobKind(name=PRUNE_KIND, handler=prune, every_seconds=every_seconds, max_attempts=3)
