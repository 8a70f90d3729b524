"""Periodic kinds: every worker offers each period's job; Postgres lets exactly one through.

Each worker asks `storage.jobs.enqueue_periodic` once per period slot of each periodic kind
(slot = floor(epoch / period) by the database clock). The slot is recorded in `job_kinds` in
the enqueue's transaction, so across any number of workers, started at any time, a slot is
enqueued once; the job then runs at least once like any other. A slot during which no worker
was up is skipped, not caught up: periodic jobs do "the work due now", not one run per slot.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from jobs.registry import Registry
from storage import jobs

log = logging.getLogger("streamhub.jobs.scheduler")

# After a failed offer (Postgres unreachable), try again after at most this long.
RETRY_AFTER_ERROR_S = 5.0
# Ask a little after the slot starts, so the database's clock is surely in the new slot.
SLOT_MARGIN_S = 0.05


class PeriodicScheduler:
    def __init__(self, registry: Registry) -> None:
        self._kinds = registry.periodic()
        self._due: dict[str, float] = {kind.name: 0.0 for kind in self._kinds}
        # The last slot this scheduler offered per kind (enqueued by it or by another worker).
        self.offered: dict[str, int] = {}

    async def tick(self, pool: asyncpg.Pool) -> float | None:
        """Offer every kind whose slot is due; return seconds until the next is (None: none)."""
        loop = asyncio.get_running_loop()
        for kind in self._kinds:
            if loop.time() < self._due[kind.name]:
                continue
            assert kind.every_seconds is not None
            try:
                result = await jobs.enqueue_periodic(
                    pool,
                    kind=kind.name,
                    period_seconds=kind.every_seconds,
                    max_attempts=kind.max_attempts,
                )
            except Exception:
                log.exception("offering a periodic job failed", extra={"kind": kind.name})
                self._due[kind.name] = loop.time() + min(kind.every_seconds, RETRY_AFTER_ERROR_S)
                continue
            self.offered[kind.name] = result.slot
            self._due[kind.name] = loop.time() + result.next_slot_in_seconds + SLOT_MARGIN_S
            if result.job is not None:
                log.info(
                    "periodic job enqueued",
                    extra={"kind": kind.name, "slot": result.slot, "job_id": str(result.job.id)},
                )
        if not self._due:
            return None
        return max(0.0, min(self._due.values()) - loop.time())
