"""jobs.worker.Worker in this process, against the real database: the runner's behaviour."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from typing import Any

import asyncpg

from jobs.context import JobContext, ProgressEvent
from jobs.registry import JobKind
from storage import jobs as store
from tests.jobs.conftest import make_worker, running, wait_for


async def _job(pool: asyncpg.Pool, job_id: Any) -> store.Job:
    job = await store.get(pool, job_id)
    assert job is not None
    return job


async def _state(pool: asyncpg.Pool, job_id: Any, state: str) -> store.Job | None:
    job = await _job(pool, job_id)
    return job if job.state == state else None


async def test_job_enqueued_in_a_rolled_back_transaction_never_runs(pool: asyncpg.Pool) -> None:
    ran: list[str] = []

    async def handler(_ctx: JobContext, payload: Any) -> None:
        ran.append(payload["name"])

    worker = make_worker(pool, [JobKind("t.record", handler)], concurrency=1)
    async with running(worker):
        async with pool.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            doomed = await store.enqueue(conn, kind="t.record", payload={"name": "rolled back"})
            assert doomed is not None
            await tx.rollback()
            # Enqueued after, so claimed after: once it ran, the first would have run too.
            kept = await store.enqueue(conn, kind="t.record", payload={"name": "committed"})
        assert kept is not None
        await wait_for(lambda: _state(pool, kept.id, "done"), "the committed job to run")
    assert ran == ["committed"]
    assert await store.get(pool, doomed.id) is None


async def test_failing_job_is_retried_then_dead_with_its_error(pool: asyncpg.Pool) -> None:
    attempts: list[int] = []

    async def handler(ctx: JobContext, _payload: Any) -> None:
        attempts.append(ctx.attempt)
        raise ValueError(f"boom on attempt {ctx.attempt}")

    kind = JobKind("t.fail", handler, max_attempts=3, backoff_base_seconds=0)
    worker = make_worker(pool, [kind])
    async with running(worker):
        job = await store.enqueue(pool, kind="t.fail", payload={})
        assert job is not None
        dead = await wait_for(lambda: _state(pool, job.id, "dead"), "the job to be dead")
    assert attempts == [1, 2, 3]
    assert dead.attempts == 3 and dead.max_attempts == 3 and dead.finished_at is not None
    assert dead.last_error is not None
    assert dead.last_error.startswith("ValueError: boom on attempt 3")
    assert "Traceback" in dead.last_error
    assert worker.counts.retried == 2 and worker.counts.dead == 1
    [stats] = await store.stats(pool)
    assert (stats.dead, stats.failures) == (1, 3)


async def test_backoff_grows_exponentially_in_the_stored_run_at(pool: asyncpg.Pool) -> None:
    async def handler(_ctx: JobContext, _payload: Any) -> None:
        raise RuntimeError("still failing")

    kind = JobKind("t.backoff", handler, backoff_base_seconds=100, backoff_max_seconds=10_000)
    worker = make_worker(pool, [kind])
    async with running(worker):
        job = await store.enqueue(pool, kind="t.backoff", payload={})
        assert job is not None
        for attempt, ceiling in ((1, 100), (2, 200), (3, 400)):
            before = await pool.fetchval("SELECT now()")
            await pool.execute("UPDATE jobs SET run_at = now() WHERE id = $1", job.id)

            async def failed(n: int = attempt) -> store.Job | None:
                current = await _job(pool, job.id)
                return current if current.attempts == n and current.state == "queued" else None

            retried = await wait_for(failed, f"failure {attempt}")
            after = await pool.fetchval("SELECT now()")
            # Equal jitter: between half and all of base * 2^(attempt-1), from the failure.
            low, high = timedelta(seconds=ceiling / 2), timedelta(seconds=ceiling)
            assert before + low <= retried.run_at <= after + high


def test_backoff_is_capped_and_jittered() -> None:
    async def handler(_ctx: JobContext, _payload: Any) -> None:
        pass

    kind = JobKind("t.cap", handler, backoff_base_seconds=2, backoff_max_seconds=60)
    rng = random.Random(7)
    delays = [kind.backoff(10, rng) for _ in range(50)]
    assert all(30 <= d <= 60 for d in delays)
    assert len(set(delays)) == 50, "jittered, so failing jobs do not retry in lockstep"
    assert 1 <= kind.backoff(1, rng) <= 2


async def test_job_own_max_attempts_beats_the_kinds(pool: asyncpg.Pool) -> None:
    async def handler(_ctx: JobContext, _payload: Any) -> None:
        raise RuntimeError("no")

    worker = make_worker(pool, [JobKind("t.once", handler, max_attempts=5)])
    async with running(worker):
        job = await store.enqueue(pool, kind="t.once", payload={}, max_attempts=1)
        assert job is not None
        dead = await wait_for(lambda: _state(pool, job.id, "dead"), "the job to be dead")
    assert dead.attempts == 1


async def test_timeout_fails_the_attempt(pool: asyncpg.Pool) -> None:
    async def handler(_ctx: JobContext, _payload: Any) -> None:
        await asyncio.Event().wait()

    kind = JobKind("t.slow", handler, max_attempts=1, timeout_seconds=0.2)
    async with running(make_worker(pool, [kind])):
        job = await store.enqueue(pool, kind="t.slow", payload={})
        assert job is not None
        dead = await wait_for(lambda: _state(pool, job.id, "dead"), "the job to time out")
    assert (dead.last_error or "").startswith("AttemptTimedOut: timed out after 0.2 s")


async def test_progress_is_stored_and_heard(pool: asyncpg.Pool) -> None:
    proceed = asyncio.Event()
    heard: list[ProgressEvent] = []

    async def handler(ctx: JobContext, _payload: Any) -> None:
        await ctx.progress(40, "transcoding 720p")
        await ctx.progress(41, "held back by the throttle")
        await proceed.wait()

    async def listener(event: ProgressEvent) -> None:
        heard.append(event)

    async def broken_listener(_event: ProgressEvent) -> None:
        raise RuntimeError("a listener's failure never fails the job")

    worker = make_worker(
        pool,
        [JobKind("t.progress", handler)],
        progress_listeners=[broken_listener, listener],
        progress_interval=3600,
    )
    async with running(worker):
        job = await store.enqueue(pool, kind="t.progress", payload={})
        assert job is not None

        async def stored() -> store.Job | None:
            current = await _job(pool, job.id)
            return current if current.progress_percent == 40 else None

        current = await wait_for(stored, "progress to be stored")
        assert current.progress_message == "transcoding 720p"
        assert [(e.job_id, e.percent, e.message, e.attempt) for e in heard] == [
            (job.id, 40, "transcoding 720p", 1)
        ]
        proceed.set()
        done = await wait_for(lambda: _state(pool, job.id, "done"), "the job to finish")
    # The report the throttle held back is written when the attempt ends; done means 100%.
    assert heard[-1].percent == 41
    assert done.progress_percent == 100 and done.progress_message == "held back by the throttle"


async def test_graceful_stop_releases_what_does_not_finish(pool: asyncpg.Pool) -> None:
    started: list[str] = []
    quick_may_finish = asyncio.Event()

    async def handler(_ctx: JobContext, payload: Any) -> None:
        started.append(payload["name"])
        if payload["name"] == "quick":
            await quick_may_finish.wait()
        else:
            await asyncio.Event().wait()  # never finishes on its own

    worker = make_worker(pool, [JobKind("t.stop", handler)], shutdown_grace=1.0)
    task = asyncio.create_task(worker.run())
    quick = await store.enqueue(pool, kind="t.stop", payload={"name": "quick"})
    stuck = await store.enqueue(pool, kind="t.stop", payload={"name": "stuck"})
    assert quick and stuck

    async def both_started() -> bool:
        return len(started) == 2

    await wait_for(both_started, "both jobs to start")
    worker.stop()
    quick_may_finish.set()  # finishes within the grace period
    await asyncio.wait_for(task, 30)
    done, released = await _job(pool, quick.id), await _job(pool, stuck.id)
    assert done.state == "done"
    assert released.state == "queued" and released.attempts == 0 and released.lease_owner is None
    assert worker.counts.released == 1 and worker.counts.completed == 1


async def test_stopped_worker_claims_nothing_more(pool: asyncpg.Pool) -> None:
    async def handler(_ctx: JobContext, _payload: Any) -> None:
        pass

    worker = make_worker(pool, [JobKind("t.noop", handler)])
    async with running(worker):
        pass
    job = await store.enqueue(pool, kind="t.noop", payload={})
    assert job is not None and (await _job(pool, job.id)).state == "queued"


async def test_lost_lease_abandons_the_attempt(pool: asyncpg.Pool) -> None:
    cancelled = asyncio.Event()

    async def handler(_ctx: JobContext, _payload: Any) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    worker = make_worker(pool, [JobKind("t.steal", handler, lease_seconds=0.6)])
    async with running(worker):
        job = await store.enqueue(pool, kind="t.steal", payload={})
        assert job is not None
        await wait_for(lambda: _state(pool, job.id, "running"), "the job to start")
        # Another worker took it over (as after a pause longer than the lease).
        await pool.execute("UPDATE jobs SET lease_owner = 'thief' WHERE id = $1", job.id)
        await asyncio.wait_for(cancelled.wait(), 30)
    stolen = await _job(pool, job.id)
    assert stolen.state == "running" and stolen.lease_owner == "thief", "nothing written"
    assert worker.counts.lost == 1


async def test_polling_finds_jobs_without_listen(pool: asyncpg.Pool) -> None:
    ran = asyncio.Event()

    async def handler(_ctx: JobContext, _payload: Any) -> None:
        ran.set()

    worker = make_worker(pool, [JobKind("t.poll", handler)], listen=False, poll_interval=0.1)
    async with running(worker):
        job = await store.enqueue(pool, kind="t.poll", payload={})
        assert job is not None
        await wait_for(lambda: _state(pool, job.id, "done"), "the job to run")
    assert ran.is_set()


async def test_scheduled_job_waits_for_its_run_at(pool: asyncpg.Pool) -> None:
    ran: list[str] = []

    async def handler(_ctx: JobContext, payload: Any) -> None:
        ran.append(payload["name"])

    now = await pool.fetchval("SELECT now()")
    async with running(make_worker(pool, [JobKind("t.later", handler)], concurrency=1)):
        later = await store.enqueue(
            pool, kind="t.later", payload={"name": "later"}, run_at=now + timedelta(hours=1)
        )
        soon = await store.enqueue(pool, kind="t.later", payload={"name": "now"})
        assert later and soon
        await wait_for(lambda: _state(pool, soon.id, "done"), "the due job to run")
        assert (await _job(pool, later.id)).attempts == 0
        await pool.execute("UPDATE jobs SET run_at = now() WHERE id = $1", later.id)
        await wait_for(lambda: _state(pool, later.id, "done"), "the job once due")
    assert ran == ["now", "later"]


async def test_periodic_kind_runs_once_per_period_across_workers(pool: asyncpg.Pool) -> None:
    runs: list[Any] = []

    async def handler(_ctx: JobContext, payload: Any) -> None:
        runs.append(payload["slot"])

    kind = JobKind("t.periodic", handler, every_seconds=3600)
    first, second = make_worker(pool, [kind]), make_worker(pool, [kind])

    async def offered(*workers: Any) -> bool:
        return all("t.periodic" in w.scheduler.offered for w in workers)

    async def one_done() -> bool:
        return bool(await pool.fetchval("SELECT count(*) FROM jobs WHERE state = 'done'") == 1)

    async with running(first), running(second):
        await wait_for(lambda: offered(first, second), "both workers to offer the slot")
        await wait_for(one_done, "the periodic job to run")
        # A worker that starts after the slot's job is done offers the same slot again.
        late = make_worker(pool, [kind])
        async with running(late):
            await wait_for(lambda: offered(late), "the late worker to offer the slot")
    slot = first.scheduler.offered["t.periodic"]
    assert second.scheduler.offered["t.periodic"] == late.scheduler.offered["t.periodic"] == slot
    assert runs == [slot]
    assert await pool.fetchval("SELECT count(*) FROM jobs") == 1


async def test_prune_kind_deletes_old_done_jobs(pool: asyncpg.Pool) -> None:
    from jobs.maintenance import prune_kind

    policy = [store.KindPolicy("old.kind", 30, 1)]
    for _ in range(2):
        await store.enqueue(pool, kind="old.kind", payload={})
    for job in await store.claim(pool, policies=policy, owner="w", limit=2):
        await store.complete(pool, lease=store.Lease.of(job))
    await pool.execute("UPDATE jobs SET finished_at = now() - interval '8 days'")
    async with running(make_worker(pool, [prune_kind(retention_seconds=7 * 86400)])):

        async def pruned() -> store.Job | None:
            row = await pool.fetchrow("SELECT id FROM jobs WHERE kind = 'jobs.prune'")
            return await _state(pool, row["id"], "done") if row else None

        done = await wait_for(pruned, "the periodic prune to run")
    assert done.progress_message == "2 done jobs deleted"
    assert await pool.fetchval("SELECT count(*) FROM jobs WHERE kind = 'old.kind'") == 0
