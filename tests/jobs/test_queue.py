"""storage.jobs on its own: enqueue with the caller's transaction, claim, fences, dedupe."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import asyncpg

from storage import db
from storage import jobs as store

POLICY = [store.KindPolicy("q.kind", lease_seconds=30, max_attempts=3)]


async def _db_now(conn: Any) -> Any:
    return await conn.fetchval("SELECT now()")


async def test_enqueue_is_part_of_the_callers_transaction(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        job = await store.enqueue(conn, kind="q.kind", payload={"video": 1})
        assert job is not None and job.state == "queued" and job.payload == {"video": 1}
        # Not visible to workers (other connections) before commit.
        assert await store.claim(pool, policies=POLICY, owner="w", limit=5) == []
        await tx.commit()
    claimed = await store.claim(pool, policies=POLICY, owner="w", limit=5)
    assert [c.id for c in claimed] == [job.id]
    assert claimed[0].state == "running" and claimed[0].attempts == 1
    assert claimed[0].max_attempts == 3, "the kind's limit is filled in at the first claim"


async def test_notify_at_commit_only(pool: asyncpg.Pool, engines: Any) -> None:
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(engines.database_url)
    await listener.add_listener(store.NOTIFY_CHANNEL, lambda *args: heard.put_nowait(args[3]))
    try:
        async with pool.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            await store.enqueue(conn, kind="q.rolled_back", payload={})
            await tx.rollback()
            async with conn.transaction():
                await store.enqueue(conn, kind="q.committed", payload={})
        # Notifications arrive in commit order: the committed one is the first and only one.
        assert await asyncio.wait_for(heard.get(), 30) == "q.committed"
        assert heard.empty()
        assert await pool.fetchval("SELECT count(*) FROM jobs WHERE kind = 'q.rolled_back'") == 0
    finally:
        await listener.close()


async def test_dedupe_key_holds_while_queued_or_running(pool: asyncpg.Pool) -> None:
    first = await store.enqueue(pool, kind="q.kind", payload={}, dedupe_key="video:1")
    assert first is not None
    assert await store.enqueue(pool, kind="q.kind", payload={}, dedupe_key="video:1") is None
    other_kind = await store.enqueue(pool, kind="q.other", payload={}, dedupe_key="video:1")
    assert other_kind is not None, "keys are per kind"
    [claimed] = await store.claim(pool, policies=POLICY, owner="w", limit=5)
    assert await store.enqueue(pool, kind="q.kind", payload={}, dedupe_key="video:1") is None
    assert await store.complete(pool, lease=store.Lease.of(claimed))
    again = await store.enqueue(pool, kind="q.kind", payload={}, dedupe_key="video:1")
    assert again is not None and again.id != first.id, "a done job frees its key"
    assert await store.enqueue(pool, kind="q.kind", payload={}) is not None, "no key, no dedupe"


async def test_future_run_at_is_not_claimed_early(pool: asyncpg.Pool) -> None:
    later = await store.enqueue(
        pool, kind="q.kind", payload={}, run_at=await _db_now(pool) + timedelta(hours=1)
    )
    assert later is not None
    assert await store.claim(pool, policies=POLICY, owner="w", limit=5) == []
    # Move the clock instead of waiting: once run_at has passed the job is claimable.
    await pool.execute(
        "UPDATE jobs SET run_at = now() - interval '1 second' WHERE id = $1", later.id
    )
    assert [j.id for j in await store.claim(pool, policies=POLICY, owner="w", limit=5)] == [
        later.id
    ]


async def test_claim_skips_locked_rows_and_only_known_kinds(pool: asyncpg.Pool) -> None:
    a = await store.enqueue(pool, kind="q.kind", payload={"n": 1})
    b = await store.enqueue(pool, kind="q.kind", payload={"n": 2})
    unknown = await store.enqueue(pool, kind="q.unknown", payload={})
    assert a and b and unknown
    async with pool.acquire() as holder, holder.transaction():
        await holder.execute("SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE", a.id)
        claimed = await store.claim(pool, policies=POLICY, owner="w", limit=5)
        assert [j.id for j in claimed] == [b.id], "the locked row is skipped, not waited for"
    claimed = await store.claim(pool, policies=POLICY, owner="w2", limit=5)
    assert [j.id for j in claimed] == [a.id]
    assert (await store.get(pool, unknown.id)).state == "queued"  # type: ignore[union-attr]


async def test_concurrent_claims_never_share_a_job(pool: asyncpg.Pool) -> None:
    for n in range(20):
        await store.enqueue(pool, kind="q.kind", payload={"n": n})
    batches = await asyncio.gather(
        *(store.claim(pool, policies=POLICY, owner=f"w{i}", limit=3) for i in range(8))
    )
    ids = [job.id for batch in batches for job in batch]
    assert len(ids) == len(set(ids)) == 20


async def test_writes_are_fenced_by_the_lease(pool: asyncpg.Pool) -> None:
    await store.enqueue(pool, kind="q.kind", payload={})
    [job] = await store.claim(pool, policies=POLICY, owner="w1", limit=1)
    mine = store.Lease.of(job)
    stale = store.Lease(job.id, "w1", job.attempts - 1)
    other = store.Lease(job.id, "w2", job.attempts)
    for lease in (stale, other):
        assert not await store.extend_lease(pool, lease=lease, lease_seconds=5)
        assert not await store.set_progress(pool, lease=lease, percent=5, message=None)
        assert not await store.complete(pool, lease=lease)
        assert not await store.release(pool, lease=lease)
        assert await store.fail(pool, lease=lease, error="x", retry_in_seconds=1) is None
    assert await store.extend_lease(pool, lease=mine, lease_seconds=5)
    assert await store.complete(pool, lease=mine)
    done = await store.get(pool, job.id)
    assert done is not None and done.state == "done" and done.lease_owner is None
    assert not await store.complete(pool, lease=mine), "done once"


async def test_fail_retries_at_run_at_then_dead(pool: asyncpg.Pool) -> None:
    job = await store.enqueue(pool, kind="q.kind", payload={}, max_attempts=2)
    assert job is not None
    [claimed] = await store.claim(pool, policies=POLICY, owner="w", limit=1)
    before = await _db_now(pool)
    retried = await store.fail(
        pool, lease=store.Lease.of(claimed), error="boom 1", retry_in_seconds=30
    )
    after = await _db_now(pool)
    assert retried is not None and retried.state == "queued" and retried.last_error == "boom 1"
    assert before + timedelta(seconds=30) <= retried.run_at <= after + timedelta(seconds=30)
    assert retried.max_attempts == 2, "a job's own limit beats the kind's"
    await pool.execute("UPDATE jobs SET run_at = now() WHERE id = $1", job.id)
    [claimed] = await store.claim(pool, policies=POLICY, owner="w", limit=1)
    dead = await store.fail(
        pool, lease=store.Lease.of(claimed), error="boom 2", retry_in_seconds=30
    )
    assert dead is not None and dead.state == "dead" and dead.attempts == 2
    assert dead.last_error == "boom 2" and dead.finished_at is not None
    [stats] = await store.stats(pool)
    assert (stats.kind, stats.dead, stats.failures, stats.queued) == ("q.kind", 1, 2, 0)


async def test_release_gives_the_attempt_back(pool: asyncpg.Pool) -> None:
    job = await store.enqueue(pool, kind="q.kind", payload={})
    assert job is not None
    [claimed] = await store.claim(pool, policies=POLICY, owner="w", limit=1)
    assert await store.release(pool, lease=store.Lease.of(claimed))
    back = await store.get(pool, job.id)
    assert back is not None and back.state == "queued" and back.attempts == 0
    assert back.run_at == job.run_at, "it keeps its place in the queue"


async def test_expired_lease_is_claimed_again_and_counted(pool: asyncpg.Pool) -> None:
    job = await store.enqueue(pool, kind="q.kind", payload={})
    assert job is not None
    [first] = await store.claim(pool, policies=POLICY, owner="lost-worker", limit=1)
    assert await store.claim(pool, policies=POLICY, owner="w2", limit=1) == []
    await pool.execute("UPDATE jobs SET lease_expires_at = now() - interval '1 second'")
    [second] = await store.claim(pool, policies=POLICY, owner="w2", limit=1)
    assert second.id == job.id and second.attempts == 2 and second.lease_owner == "w2"
    assert "lost-worker" in (second.last_error or "")
    assert (await store.stats(pool))[0].failures == 1
    assert not await store.complete(pool, lease=store.Lease.of(first)), "the old lease is void"


async def test_expired_lease_on_last_attempt_is_buried(pool: asyncpg.Pool) -> None:
    await store.enqueue(pool, kind="q.kind", payload={}, max_attempts=1)
    [job] = await store.claim(pool, policies=POLICY, owner="lost-worker", limit=1)
    assert await store.bury_expired(pool, kinds=["q.kind"]) == [], "lease still valid"
    await pool.execute("UPDATE jobs SET lease_expires_at = now() - interval '1 second'")
    assert await store.claim(pool, policies=POLICY, owner="w2", limit=1) == []
    [dead] = await store.bury_expired(pool, kinds=["q.kind"])
    assert dead.id == job.id and dead.state == "dead"
    assert "lost-worker" in (dead.last_error or "") and "worker lost" in (dead.last_error or "")


async def test_stats_per_kind(pool: asyncpg.Pool) -> None:
    now = await _db_now(pool)
    await store.enqueue(pool, kind="s.a", payload={}, run_at=now - timedelta(seconds=90))
    await store.enqueue(pool, kind="s.a", payload={})
    await store.enqueue(pool, kind="s.a", payload={}, run_at=now + timedelta(hours=1))
    await store.enqueue(pool, kind="s.b", payload={})
    policy = [store.KindPolicy("s.b", 30, 1)]
    await store.claim(pool, policies=policy, owner="w", limit=1)
    by_kind = {s.kind: s for s in await store.stats(pool)}
    a, b = by_kind["s.a"], by_kind["s.b"]
    assert (a.queued, a.scheduled, a.running, a.dead) == (2, 1, 0, 0)
    assert a.oldest_queued_seconds >= 90
    assert (b.queued, b.running, b.oldest_queued_seconds) == (0, 1, 0)


async def test_prune_deletes_only_old_done_jobs(pool: asyncpg.Pool) -> None:
    for _ in range(3):
        await store.enqueue(pool, kind="q.kind", payload={})
    claimed = await store.claim(pool, policies=POLICY, owner="w", limit=2)
    for job in claimed:
        await store.complete(pool, lease=store.Lease.of(job))
    old = claimed[0].id
    await pool.execute("UPDATE jobs SET finished_at = now() - interval '2 days' WHERE id = $1", old)
    assert await store.prune(pool, older_than_seconds=86400) == 1
    assert await store.get(pool, old) is None
    assert await pool.fetchval("SELECT count(*) FROM jobs") == 2


async def test_truncate_all_empties_the_job_tables(pool: asyncpg.Pool) -> None:
    await store.enqueue(pool, kind="q.kind", payload={})
    await store.enqueue_periodic(pool, kind="q.periodic", period_seconds=60)
    async with pool.acquire() as conn:
        await db.truncate_all(conn)
    assert await pool.fetchval("SELECT count(*) FROM jobs") == 0
    assert await pool.fetchval("SELECT count(*) FROM job_kinds") == 0
