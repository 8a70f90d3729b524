"""Durable jobs (tables `jobs` and `job_kinds`, migration 0011): every statement of the runner.

Guarantees:
- `enqueue` inside a caller's transaction commits or rolls back with it; the wake-up it sends
  (`pg_notify`) is delivered at commit and never for a rolled-back job.
- `claim` hands each due job to one worker at a time (FOR UPDATE SKIP LOCKED) under a lease;
  a job whose lease ran out (its worker died) is claimed again, so delivery is at least once
  and handlers must be idempotent.
- Every write a worker makes to a claimed job (`extend_lease`, `set_progress`, `complete`,
  `fail`, `release`) is fenced by the lease: (job id, owner, attempt). A worker that lost its
  lease to another changes nothing and is told so (False / None).

Every time comes from the database clock (`now()`), so workers' clocks never disagree.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from storage.db import Conn

# LISTEN/NOTIFY channel on which enqueues wake idle workers; the payload is the job's kind.
NOTIFY_CHANNEL = "streamhub_jobs"

_COLUMNS = """id, kind, payload, state, attempts, max_attempts, run_at, lease_owner,
    lease_expires_at, last_error, progress_percent, progress_message, dedupe_key, created_at,
    started_at, finished_at"""

# Adds failed attempts to the per-kind counter, from a CTE `failed(kind)` of the same statement.
_COUNT_FAILURES = """counted AS (
    INSERT INTO job_kinds AS k (kind, failures)
    SELECT kind, count(*) FROM failed GROUP BY kind
    ON CONFLICT (kind) DO UPDATE SET failures = k.failures + EXCLUDED.failures,
                                     updated_at = now()
)"""


@dataclass(frozen=True, slots=True)
class Job:
    id: uuid.UUID
    kind: str
    payload: Any
    state: str  # queued | running | done | dead
    attempts: int
    max_attempts: int | None
    run_at: datetime
    lease_owner: str | None
    lease_expires_at: datetime | None
    last_error: str | None
    progress_percent: float | None
    progress_message: str | None
    dedupe_key: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class Lease:
    """What fences a worker's writes to a claimed job: this job, this owner, this attempt."""

    job_id: uuid.UUID
    owner: str
    attempt: int

    @classmethod
    def of(cls, job: Job) -> Lease:
        if job.lease_owner is None:
            raise ValueError("only a claimed (running) job has a lease")
        return cls(job.id, job.lease_owner, job.attempts)


@dataclass(frozen=True, slots=True)
class KindPolicy:
    """What a worker tells `claim` about a kind it runs."""

    kind: str
    lease_seconds: float
    max_attempts: int


@dataclass(frozen=True, slots=True)
class KindStats:
    kind: str
    queued: int  # due now, waiting for a worker
    scheduled: int  # queued with run_at in the future (scheduled jobs, retry backoff)
    running: int
    dead: int
    oldest_queued_seconds: float  # how long the oldest due job has waited past its run_at
    failures: int  # failed attempts ever


@dataclass(frozen=True, slots=True)
class PeriodicSlot:
    slot: int  # floor(epoch / period) by the database clock
    job: Job | None  # the job this call enqueued; None when another worker had the slot
    next_slot_in_seconds: float


_JOB_FIELDS = tuple(field.name for field in dataclasses.fields(Job))


def _job(row: asyncpg.Record) -> Job:
    return Job(**{name: row[name] for name in _JOB_FIELDS})


async def enqueue(
    conn: Conn,
    *,
    kind: str,
    payload: Any,
    run_at: datetime | None = None,
    dedupe_key: str | None = None,
    max_attempts: int | None = None,
) -> Job | None:
    """Add a job, in the caller's transaction when `conn` holds one.

    `run_at` None means now. `max_attempts` None means the kind's own limit (filled in at the
    first claim). Returns None, adding nothing, when a job of this kind with this
    `dedupe_key` is already queued or running.
    """
    row = await conn.fetchrow(
        f"""WITH ins AS (
                INSERT INTO jobs (kind, payload, run_at, dedupe_key, max_attempts)
                VALUES ($1, $2, coalesce($3, now()), $4, $5)
                ON CONFLICT (kind, dedupe_key)
                    WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'running')
                    DO NOTHING
                RETURNING {_COLUMNS})
            SELECT ins.*, CASE WHEN ins.run_at <= now() THEN pg_notify($6, ins.kind) END AS woke
            FROM ins""",
        kind, payload, run_at, dedupe_key, max_attempts, NOTIFY_CHANNEL,
    )  # fmt: skip
    return _job(row) if row is not None else None


# Claims expired leases first (rare), then due jobs, `$5` in all, each row under SKIP LOCKED.
_CLAIM = f"""WITH policy AS (
            SELECT * FROM unnest($1::text[], $2::float8[], $3::int[])
                AS p(kind, lease_seconds, max_attempts)
        ), lost AS (
            SELECT id, kind, lease_owner FROM jobs
            WHERE state = 'running' AND lease_expires_at <= now()
              AND attempts < max_attempts AND kind = ANY($1::text[])
            ORDER BY lease_expires_at
            LIMIT $5
            FOR UPDATE SKIP LOCKED
        ), due AS (
            -- An ordered scan of jobs_queued_idx that stops after the rows it needs,
            -- however long the queue.
            SELECT id, kind FROM jobs
            WHERE state = 'queued' AND run_at <= now() AND kind = ANY($1::text[])
            ORDER BY run_at
            LIMIT $5
            FOR UPDATE SKIP LOCKED
        ), next AS (
            SELECT * FROM (
                SELECT id, kind, true AS was_running, lease_owner AS old_owner FROM lost
                UNION ALL
                SELECT id, kind, false, NULL FROM due
            ) AS found
            LIMIT $5
        ), claimed AS (
            UPDATE jobs j SET
                state = 'running',
                attempts = j.attempts + 1,
                max_attempts = coalesce(j.max_attempts, p.max_attempts),
                lease_owner = $4,
                lease_expires_at = now() + make_interval(secs => p.lease_seconds),
                started_at = now(),
                progress_percent = NULL,
                progress_message = NULL,
                last_error = CASE WHEN next.was_running
                    THEN format('lease of %s expired on attempt %s (worker lost)',
                                next.old_owner, j.attempts)
                    ELSE j.last_error END
            FROM next JOIN policy p USING (kind) WHERE j.id = next.id
            RETURNING j.*, next.was_running
        ), failed AS (
            SELECT kind FROM claimed WHERE was_running
        ), {_COUNT_FAILURES}
        SELECT {_COLUMNS} FROM claimed ORDER BY run_at"""


async def claim(conn: Conn, *, policies: list[KindPolicy], owner: str, limit: int) -> list[Job]:
    """Lease up to `limit` due jobs of these kinds to `owner`, oldest run_at first.

    Due means queued with run_at reached, or running with an expired lease and attempts left
    (its worker died: that attempt counts as a failure and stays counted).
    """
    rows = await conn.fetch(
        _CLAIM,
        [p.kind for p in policies],
        [p.lease_seconds for p in policies],
        [p.max_attempts for p in policies],
        owner,
        limit,
    )
    return [_job(row) for row in rows]


async def bury_expired(conn: Conn, *, kinds: list[str]) -> list[Job]:
    """Mark dead the jobs whose worker died on their last attempt (lease expired, none left)."""
    rows = await conn.fetch(
        f"""WITH failed AS (
                UPDATE jobs SET
                    state = 'dead', finished_at = now(),
                    last_error = format('lease of %s expired on attempt %s of %s (worker lost)',
                                        lease_owner, attempts, max_attempts),
                    lease_owner = NULL, lease_expires_at = NULL
                WHERE state = 'running' AND lease_expires_at <= now()
                  AND attempts >= max_attempts AND kind = ANY($1::text[])
                RETURNING {_COLUMNS}
            ), {_COUNT_FAILURES}
            SELECT * FROM failed""",
        kinds,
    )
    return [_job(row) for row in rows]


_FENCE = "id = $1 AND state = 'running' AND lease_owner = $2 AND attempts = $3"


async def extend_lease(conn: Conn, *, lease: Lease, lease_seconds: float) -> bool:
    """Push the lease `lease_seconds` past now; False if the lease is no longer this owner's."""
    status = await conn.execute(
        f"""UPDATE jobs SET lease_expires_at = now() + make_interval(secs => $4)
            WHERE {_FENCE}""",
        lease.job_id, lease.owner, lease.attempt, lease_seconds,
    )  # fmt: skip
    return bool(status == "UPDATE 1")


async def set_progress(conn: Conn, *, lease: Lease, percent: float, message: str | None) -> bool:
    """Store a running job's progress; False if the lease is no longer this owner's."""
    status = await conn.execute(
        f"""UPDATE jobs SET progress_percent = $4, progress_message = $5 WHERE {_FENCE}""",
        lease.job_id, lease.owner, lease.attempt, percent, message,
    )  # fmt: skip
    return bool(status == "UPDATE 1")


async def complete(conn: Conn, *, lease: Lease) -> bool:
    """Mark a running job done; False if the lease is no longer this owner's."""
    status = await conn.execute(
        f"""UPDATE jobs SET state = 'done', finished_at = now(), progress_percent = 100,
                            lease_owner = NULL, lease_expires_at = NULL
            WHERE {_FENCE}""",
        lease.job_id, lease.owner, lease.attempt,
    )  # fmt: skip
    return bool(status == "UPDATE 1")


async def fail(
    conn: Conn, *, lease: Lease, error: str, retry_in_seconds: float | None
) -> Job | None:
    """Record a failed attempt: queued again `retry_in_seconds` from now, or dead when no
    attempts are left (or `retry_in_seconds` is None). None if the lease was lost."""
    row = await conn.fetchrow(
        f"""WITH failed AS (
                UPDATE jobs SET
                    state = CASE WHEN $5::float8 IS NULL OR attempts >= max_attempts
                                 THEN 'dead' ELSE 'queued' END,
                    run_at = CASE WHEN $5::float8 IS NULL OR attempts >= max_attempts
                                  THEN run_at ELSE now() + make_interval(secs => $5) END,
                    finished_at = CASE WHEN $5::float8 IS NULL OR attempts >= max_attempts
                                       THEN now() END,
                    last_error = $4, lease_owner = NULL, lease_expires_at = NULL
                WHERE {_FENCE}
                RETURNING {_COLUMNS}
            ), {_COUNT_FAILURES}
            SELECT * FROM failed""",
        lease.job_id, lease.owner, lease.attempt, error, retry_in_seconds,
    )  # fmt: skip
    return _job(row) if row is not None else None


async def release(conn: Conn, *, lease: Lease) -> bool:
    """Give a running job back (graceful stop): queued at its old run_at, attempt not counted."""
    status = await conn.execute(
        f"""UPDATE jobs SET state = 'queued', attempts = attempts - 1,
                            lease_owner = NULL, lease_expires_at = NULL
            WHERE {_FENCE}""",
        lease.job_id, lease.owner, lease.attempt,
    )  # fmt: skip
    return bool(status == "UPDATE 1")


async def get(conn: Conn, job_id: uuid.UUID) -> Job | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM jobs WHERE id = $1", job_id)
    return _job(row) if row is not None else None


async def last_done(conn: Conn, kind: str) -> datetime | None:
    """When the newest done job of `kind` finished (None: none kept; done jobs are pruned)."""
    return await conn.fetchval(
        """SELECT finished_at FROM jobs WHERE state = 'done' AND kind = $1
            ORDER BY finished_at DESC LIMIT 1""",
        kind,
    )


async def stats(conn: Conn) -> list[KindStats]:
    """Queue figures per kind: every kind with open or dead jobs, or with failures recorded."""
    rows = await conn.fetch(
        """WITH open AS (
               SELECT kind,
                   count(*) FILTER (WHERE state = 'queued' AND run_at <= now()) AS queued,
                   count(*) FILTER (WHERE state = 'queued' AND run_at > now()) AS scheduled,
                   count(*) FILTER (WHERE state = 'running') AS running,
                   count(*) FILTER (WHERE state = 'dead') AS dead,
                   extract(epoch FROM now() - min(run_at)
                       FILTER (WHERE state = 'queued' AND run_at <= now()))::float8 AS oldest
               FROM jobs WHERE state IN ('queued', 'running', 'dead')
               GROUP BY kind)
           SELECT coalesce(o.kind, k.kind) AS kind,
                  coalesce(o.queued, 0) AS queued, coalesce(o.scheduled, 0) AS scheduled,
                  coalesce(o.running, 0) AS running, coalesce(o.dead, 0) AS dead,
                  coalesce(o.oldest, 0) AS oldest, coalesce(k.failures, 0) AS failures
           FROM open o FULL JOIN job_kinds k ON k.kind = o.kind
           WHERE o.kind IS NOT NULL OR k.failures > 0
           ORDER BY 1"""
    )
    return [
        KindStats(
            kind=row["kind"],
            queued=row["queued"],
            scheduled=row["scheduled"],
            running=row["running"],
            dead=row["dead"],
            oldest_queued_seconds=max(0.0, row["oldest"]),
            failures=row["failures"],
        )
        for row in rows
    ]


async def prune(conn: Conn, *, older_than_seconds: float, limit: int = 10_000) -> int:
    """Delete up to `limit` done jobs finished more than `older_than_seconds` ago; returns how
    many. Batched so no single statement holds many row locks; call until it returns < limit."""
    status = await conn.execute(
        """DELETE FROM jobs WHERE id IN (
               SELECT id FROM jobs
               WHERE state = 'done' AND finished_at < now() - make_interval(secs => $1)
               ORDER BY finished_at LIMIT $2)""",
        older_than_seconds, limit,
    )  # fmt: skip
    return int(status.split()[-1])


async def enqueue_periodic(
    conn: Conn, *, kind: str, period_seconds: float, max_attempts: int | None = None
) -> PeriodicSlot:
    """Enqueue this period's job of a periodic kind unless some worker already did.

    The slot is `floor(epoch / period)` by the database clock; `job_kinds.periodic_slot` only
    moves forward, in the same transaction as the enqueue, so each slot is enqueued once
    across all workers, even by a worker that starts after the slot's job finished.
    """
    if isinstance(conn, asyncpg.Pool):
        async with conn.acquire() as acquired:
            return await enqueue_periodic(
                acquired, kind=kind, period_seconds=period_seconds, max_attempts=max_attempts
            )
    async with conn.transaction():
        now = await conn.fetchval("SELECT extract(epoch FROM now())::float8")
        slot = int(now // period_seconds)
        won = await conn.fetchval(
            """INSERT INTO job_kinds AS k (kind, periodic_slot) VALUES ($1, $2)
               ON CONFLICT (kind) DO UPDATE SET periodic_slot = EXCLUDED.periodic_slot,
                                                updated_at = now()
                   WHERE k.periodic_slot IS NULL OR k.periodic_slot < EXCLUDED.periodic_slot
               RETURNING true""",
            kind, slot,
        )  # fmt: skip
        job = None
        if won:
            job = await enqueue(
                conn,
                kind=kind,
                payload={"slot": slot},
                dedupe_key=f"periodic:{slot}",
                max_attempts=max_attempts,
            )
    return PeriodicSlot(
        slot=slot, job=job, next_slot_in_seconds=max(0.0, (slot + 1) * period_seconds - now)
    )
