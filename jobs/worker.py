"""The job worker: claims due jobs, runs them under a lease, retries them, stops gracefully.

Failure policy:
- A handler that raises (or outlives its kind's timeout) fails the attempt: the job is queued
  again after the kind's backoff, or marked dead with the error once its attempts are spent.
- While a handler runs, its lease is extended every third of the lease. A worker that dies
  stops extending; once the lease runs out another worker claims the job and runs it again
  (that lost attempt counts). A worker that finds its lease taken (a pause longer than the
  lease) cancels its handler and writes nothing: the job belongs to the other worker now.
- Postgres unreachable: claiming, heartbeats and outcomes are logged and retried on the next
  turn; an outcome that cannot be written leaves the job to its lease, so it runs again.
- `stop()` (SIGTERM in `run.py worker`): no more claims; running jobs get up to
  `shutdown_grace` seconds to finish, then are cancelled and released (queued again, attempt
  not counted) for another worker.

Wake-ups: LISTEN on `storage.jobs.NOTIFY_CHANNEL` (an enqueue's NOTIFY arrives at its commit),
a finished job (a slot is free), a periodic slot coming due, or else every `poll_interval`
(the fallback when a notification is lost or the listening connection is down).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import traceback
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg

from jobs.context import JobContext, ProgressListener
from jobs.registry import JobKind, Registry
from jobs.scheduler import PeriodicScheduler
from storage import jobs

log = logging.getLogger("streamhub.jobs.worker")

# last_error keeps the exception line and the end of its traceback, not megabytes of it.
MAX_ERROR_CHARS = 4000
# After LISTEN fails, it is tried again this often (polling covers the gap).
RELISTEN_AFTER_S = 5.0


class AttemptTimedOut(Exception):
    """An attempt ran longer than its kind's `timeout_seconds`."""


@dataclass
class WorkerCounts:
    """This worker's own tallies (for logs and tests); cluster figures live in Postgres."""

    completed: int = 0
    retried: int = 0
    dead: int = 0
    released: int = 0
    lost: int = 0


@dataclass(eq=False)
class _Attempt:
    job: jobs.Job
    kind: JobKind
    ctx: JobContext
    handler: asyncio.Task[None]
    releasing: bool = field(default=False)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def describe_error(exc: BaseException) -> str:
    summary = f"{type(exc).__name__}: {exc}"
    trace = "".join(traceback.format_exception(exc))
    return f"{summary}\n\n{trace[-(MAX_ERROR_CHARS - len(summary)) :]}"[:MAX_ERROR_CHARS]


class Worker:
    """Runs the kinds of `registry` with up to `concurrency` jobs at once, until `stop()`."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        registry: Registry,
        *,
        concurrency: int = 4,
        lease_seconds: float = 30.0,
        poll_interval: float = 1.0,
        shutdown_grace: float = 10.0,
        worker_id: str | None = None,
        listen: bool = True,
        progress_listeners: Sequence[ProgressListener] = (),
        progress_interval: float = 1.0,
        rng: random.Random | None = None,
    ) -> None:
        if not len(registry):
            raise ValueError("a worker needs at least one job kind")
        self.id = worker_id or default_worker_id()
        self.counts = WorkerCounts()
        self.scheduler = PeriodicScheduler(registry)
        self._pool = pool
        self._registry = registry
        self._concurrency = concurrency
        self._lease = lease_seconds
        self._poll = poll_interval
        self._grace = shutdown_grace
        self._listen = listen
        self._listeners = progress_listeners
        self._progress_interval = progress_interval
        self._rng = rng or random.Random()
        self._policies = [
            jobs.KindPolicy(kind.name, self._lease_for(kind), kind.max_attempts)
            for kind in registry
        ]
        self._attempts: dict[uuid.UUID, _Attempt] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._listen_conn: asyncpg.Connection | None = None
        self._next_listen = 0.0
        self._next_bury = 0.0

    @property
    def running(self) -> int:
        return len(self._tasks)

    def stop(self) -> None:
        """Stop claiming and begin the graceful stop; safe to call from a signal handler."""
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Claim and run jobs until `stop()`; returns once every claimed job is settled."""
        log.info(
            "job worker running",
            extra={
                "worker": self.id,
                "kinds": self._registry.names,
                "concurrency": self._concurrency,
            },
        )
        try:
            while not self._stopping.is_set():
                await self._ensure_listening()
                self._wake.clear()
                periodic_due_in = await self.scheduler.tick(self._pool)
                await self._claim()
                await self._idle(periodic_due_in)
        finally:
            await self._drain()
            await self._unlisten()
            log.info("job worker stopped", extra={"worker": self.id, **vars(self.counts)})

    # --- claiming ---------------------------------------------------------------------------

    async def _idle(self, periodic_due_in: float | None) -> None:
        timeout = self._poll if periodic_due_in is None else min(self._poll, periodic_due_in)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._wake.wait()

    async def _claim(self) -> None:
        free = self._concurrency - len(self._tasks)
        if free <= 0 or self._stopping.is_set():
            return
        try:
            await self._bury_if_due()
            claimed = await jobs.claim(
                self._pool, policies=self._policies, owner=self.id, limit=free
            )
        except Exception:
            log.exception("claiming jobs failed; trying again", extra={"worker": self.id})
            return
        for job in claimed:
            task = asyncio.create_task(self._execute(job), name=f"job:{job.kind}:{job.id}")
            self._tasks.add(task)
            task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._wake.set()  # a slot is free
        if not task.cancelled() and task.exception() is not None:
            log.error("job runner crashed", exc_info=task.exception())

    async def _bury_if_due(self) -> None:
        now = asyncio.get_running_loop().time()
        if now < self._next_bury:
            return
        self._next_bury = now + self._poll
        for job in await jobs.bury_expired(self._pool, kinds=self._registry.names):
            log.error(
                "job is dead: its worker was lost on its last attempt",
                extra={"job_id": str(job.id), "kind": job.kind, "error": job.last_error},
            )

    # --- running one job --------------------------------------------------------------------

    def _lease_for(self, kind: JobKind) -> float:
        return kind.lease_seconds or self._lease

    async def _execute(self, job: jobs.Job) -> None:
        kind = self._registry.get(job.kind)
        assert kind is not None, "claim only returns registered kinds"
        ctx = JobContext(
            pool=self._pool,
            job=job,
            listeners=self._listeners,
            progress_interval=self._progress_interval,
        )
        attempt = _Attempt(job, kind, ctx, asyncio.create_task(self._call(kind, ctx)))
        self._attempts[job.id] = attempt
        try:
            if await self._hold_lease(attempt):
                await self._settle(attempt)
        finally:
            del self._attempts[job.id]

    @staticmethod
    async def _call(kind: JobKind, ctx: JobContext) -> None:
        timeout = asyncio.timeout(kind.timeout_seconds)
        try:
            async with timeout:
                await kind.handler(ctx, ctx.payload)
        except TimeoutError as exc:
            if timeout.expired():
                raise AttemptTimedOut(f"timed out after {kind.timeout_seconds} s") from exc
            raise

    async def _hold_lease(self, attempt: _Attempt) -> bool:
        """Heartbeat until the handler ends; False (handler cancelled) if the lease was lost."""
        job, lease = attempt.job, self._lease_for(attempt.kind)
        while True:
            done, _ = await asyncio.wait({attempt.handler}, timeout=lease / 3)
            if done:
                return True
            kept = not attempt.ctx.lease_lost
            if kept:
                try:
                    kept = await jobs.extend_lease(
                        self._pool, lease=jobs.Lease.of(job), lease_seconds=lease
                    )
                except Exception:
                    log.warning("extending a job lease failed", extra={"job_id": str(job.id)})
                    continue
            if not kept:
                attempt.handler.cancel()
                await asyncio.wait({attempt.handler})
                self.counts.lost += 1
                log.warning(
                    "job lease lost to another worker; attempt abandoned",
                    extra={"job_id": str(job.id), "kind": job.kind},
                )
                return False

    async def _settle(self, attempt: _Attempt) -> None:
        job, handler = attempt.job, attempt.handler
        lease = jobs.Lease.of(job)
        try:
            await attempt.ctx.flush_progress()
            if handler.cancelled() and attempt.releasing:
                if await jobs.release(self._pool, lease=lease):
                    self.counts.released += 1
                    log.info("job released", extra={"job_id": str(job.id), "kind": job.kind})
                return
            exc = asyncio.CancelledError() if handler.cancelled() else handler.exception()
            if exc is None:
                if await jobs.complete(self._pool, lease=lease):
                    self.counts.completed += 1
                else:
                    self.counts.lost += 1
                    log.warning(
                        "job finished after its lease was lost", extra={"job_id": str(job.id)}
                    )
                return
            await self._fail(attempt, exc)
        except Exception:
            log.exception(
                "recording a job's outcome failed; it runs again when its lease expires",
                extra={"job_id": str(job.id), "kind": job.kind},
            )

    async def _fail(self, attempt: _Attempt, exc: BaseException) -> None:
        job = attempt.job
        failed = await jobs.fail(
            self._pool,
            lease=jobs.Lease.of(job),
            error=describe_error(exc),
            retry_in_seconds=attempt.kind.backoff(job.attempts, self._rng),
        )
        extra = {"job_id": str(job.id), "kind": job.kind, "attempt": job.attempts}
        if failed is None:
            self.counts.lost += 1
            log.warning("job failed after its lease was lost", extra=extra)
        elif failed.state == "dead":
            self.counts.dead += 1
            log.error("job is dead: no attempts left", exc_info=exc, extra=extra)
        else:
            self.counts.retried += 1
            log.warning(
                "job attempt failed; retrying",
                exc_info=exc,
                extra={**extra, "run_at": failed.run_at.isoformat()},
            )

    # --- stopping ---------------------------------------------------------------------------

    async def _drain(self) -> None:
        if not self._tasks:
            return
        log.info(
            "job worker stopping: waiting for running jobs",
            extra={"running": len(self._tasks), "grace_seconds": self._grace},
        )
        _, pending = await asyncio.wait(set(self._tasks), timeout=self._grace)
        if pending:
            for attempt in list(self._attempts.values()):
                attempt.releasing = True
                attempt.handler.cancel()
            await asyncio.wait(pending)

    # --- LISTEN -----------------------------------------------------------------------------

    def _on_notify(self, _conn: object, _pid: int, _channel: str, kind: object) -> None:
        if kind in self._registry:
            self._wake.set()

    async def _ensure_listening(self) -> None:
        conn = self._listen_conn
        if not self._listen or (conn is not None and not conn.is_closed()):
            return
        now = asyncio.get_running_loop().time()
        if now < self._next_listen:
            return
        await self._unlisten()
        try:
            conn = await self._pool.acquire()
        except Exception:
            conn = None
        try:
            if conn is None:
                raise ConnectionError("no connection for LISTEN")
            await conn.add_listener(jobs.NOTIFY_CHANNEL, self._on_notify)
            self._listen_conn = conn
        except Exception as exc:
            self._next_listen = now + RELISTEN_AFTER_S
            log.warning("LISTEN failed; polling until it works", extra={"error": repr(exc)})
            if conn is not None:
                await self._pool.release(conn)

    async def _unlisten(self) -> None:
        conn, self._listen_conn = self._listen_conn, None
        if conn is None:
            return
        try:
            if not conn.is_closed():
                # The pool does not reset sessions (storage/db.py): UNLISTEN before release.
                await conn.remove_listener(jobs.NOTIFY_CHANNEL, self._on_notify)
        except Exception as exc:
            log.warning("UNLISTEN failed", extra={"error": repr(exc)})
        finally:
            await self._pool.release(conn)
