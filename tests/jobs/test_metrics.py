"""Job figures on a node's GET /metrics, read from Postgres at scrape time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg

from storage import jobs as store
from tests.api.test_metrics import scrape, value


async def test_queue_depth_age_running_dead_and_failures(client: Any, pool: asyncpg.Pool) -> None:
    text = await scrape(client)
    assert value(text, "streamhub_jobs_stats_up") == 1
    assert value(text, "streamhub_jobs_queued", kind="m.mail") is None, "no jobs, no series"

    now = await pool.fetchval("SELECT now()")
    await store.enqueue(pool, kind="m.mail", payload={}, run_at=now - timedelta(seconds=120))
    await store.enqueue(pool, kind="m.mail", payload={})
    await store.enqueue(pool, kind="m.mail", payload={}, run_at=now + timedelta(hours=1))
    await store.enqueue(pool, kind="m.transcode", payload={}, max_attempts=1)
    policy = [store.KindPolicy("m.transcode", 30, 1)]
    await store.enqueue(pool, kind="m.transcode", payload={})
    first, second = await store.claim(pool, policies=policy, owner="w", limit=2)
    await store.fail(pool, lease=store.Lease.of(first), error="ffmpeg: exit 1", retry_in_seconds=5)

    text = await scrape(client)
    assert value(text, "streamhub_jobs_queued", kind="m.mail") == 2
    assert value(text, "streamhub_jobs_scheduled", kind="m.mail") == 1
    assert (value(text, "streamhub_jobs_oldest_queued_age_seconds", kind="m.mail") or 0) >= 120
    assert value(text, "streamhub_jobs_running", kind="m.transcode") == 1
    assert value(text, "streamhub_jobs_dead", kind="m.transcode") == 1
    assert value(text, "streamhub_jobs_failures_total", kind="m.transcode") == 1
    assert value(text, "streamhub_jobs_failures_total", kind="m.mail") == 0
    assert second.state == "running"


async def test_scrape_survives_a_broken_query(client: Any, pool: asyncpg.Pool) -> None:
    await store.enqueue(pool, kind="m.mail", payload={})
    await pool.execute("ALTER TABLE job_kinds RENAME TO job_kinds_gone")
    try:
        text = await scrape(client)
    finally:
        await pool.execute("ALTER TABLE job_kinds_gone RENAME TO job_kinds")
    assert value(text, "streamhub_jobs_stats_up") == 0
    assert value(text, "streamhub_jobs_queued", kind="m.mail") is None
    assert value(text, "streamhub_db_pool_max_connections") == 5, "the rest is still served"
