"""What a job handler gets: who it is, its attempt, the pool, and a way to report progress."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from storage import jobs

log = logging.getLogger("streamhub.jobs")


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    job_id: uuid.UUID
    kind: str
    attempt: int
    percent: float
    message: str | None


# Registered by the composition root, e.g. to publish a WebSocket event. Called after each
# stored progress; a listener that raises is logged and never fails the job.
ProgressListener = Callable[[ProgressEvent], Awaitable[None]]


class JobContext:
    """One attempt of one job, as its handler sees it.

    `progress()` is throttled: at most one write (and one round of listeners) per
    `progress_interval` seconds, except that the first report and 100% go at once; the last
    report held back is written when the attempt ends.
    """

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        job: jobs.Job,
        listeners: Sequence[ProgressListener] = (),
        progress_interval: float = 1.0,
    ) -> None:
        self.pool = pool
        self.job = job
        self._listeners = listeners
        self._interval = progress_interval
        self._last_stored: float | None = None
        self._pending: tuple[float, str | None] | None = None
        self.lease_lost = False

    @property
    def job_id(self) -> uuid.UUID:
        return self.job.id

    @property
    def kind(self) -> str:
        return self.job.kind

    @property
    def attempt(self) -> int:
        """1 on the first run; a retry after a failure or a lost worker is 2, and so on."""
        return self.job.attempts

    @property
    def max_attempts(self) -> int:
        return self.job.max_attempts or 1

    @property
    def payload(self) -> Any:
        return self.job.payload

    async def progress(self, percent: float, message: str | None = None) -> None:
        """Report progress (0 to 100) with an optional message for whoever watches the job."""
        if not 0 <= percent <= 100:
            raise ValueError("progress percent must be between 0 and 100")
        now = time.monotonic()
        due = self._last_stored is None or now - self._last_stored >= self._interval
        if due or percent >= 100:
            self._pending = None
            await self._store(percent, message, now)
        else:
            self._pending = (percent, message)

    async def flush_progress(self) -> None:
        """Write the report that the throttle held back (the worker calls this at the end)."""
        if self._pending is not None:
            percent, message = self._pending
            self._pending = None
            await self._store(percent, message, time.monotonic())

    async def _store(self, percent: float, message: str | None, now: float) -> None:
        self._last_stored = now
        try:
            stored = await jobs.set_progress(
                self.pool, lease=jobs.Lease.of(self.job), percent=percent, message=message
            )
        except Exception:  # progress is advisory: a failed write must not fail the job
            log.warning("storing job progress failed", extra={"job_id": str(self.job.id)})
            return
        if not stored:
            self.lease_lost = True
            return
        event = ProgressEvent(self.job.id, self.job.kind, self.job.attempts, percent, message)
        for listener in self._listeners:
            try:
                await listener(event)
            except Exception:
                log.exception("job progress listener failed", extra={"job_id": str(self.job.id)})
