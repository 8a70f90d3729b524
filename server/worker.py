"""Composition root of the job worker: `python run.py worker`, or the one a node starts.

The worker builds the same domain services as a node (server/services.py) on its own
engines, and runs `services.job_kinds`, THE list of job kinds of this deployment. Events the
jobs publish go through the worker's own broker connection, so subscribers on every node get
them. `progress_listeners` is where job progress is handed on. Domains enqueue with
`storage.jobs.enqueue(conn, kind=..., payload=...)` inside their own transaction; only the
composition root knows which handler runs a kind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import uuid
from collections.abc import Sequence

import asyncpg
from redis.asyncio import Redis

from channels.publisher import Publisher
from jobs.context import ProgressListener
from jobs.registry import JobKind, Registry
from jobs.worker import Worker
from server import realtime
from server.config import Settings
from server.services import Services, build_services, job_kinds, token_service
from storage import db, migrate

log = logging.getLogger("streamhub.worker")

# Connections beyond one per concurrent job: LISTEN, claims and lease heartbeats.
EXTRA_CONNECTIONS = 3


def progress_listeners(services: Services) -> list[ProgressListener]:
    """Called with every stored job progress, e.g. to publish a WebSocket event. None yet."""
    del services
    return []


def create_registry(services: Services, kinds: Sequence[JobKind] | None = None) -> Registry:
    """The registry a worker runs: `kinds` when given (tests, tools), else `job_kinds`."""
    return Registry(job_kinds(services) if kinds is None else kinds)


async def wait_for_schema(pool: asyncpg.Pool, settings: Settings, stop: asyncio.Event) -> None:
    """Apply migrations (MIGRATE_ON_START) or wait until whoever migrates has done so.

    A worker never runs against an older schema than its code; a node starting beside it may
    still be migrating.
    """
    async with pool.acquire() as conn:
        if settings.migrate_on_start:
            await migrate.apply_pending(conn)
            return
        while not stop.is_set() and (pending := await migrate.pending_versions(conn)):
            log.warning("job worker waiting for migrations", extra={"pending": pending})
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(settings.job_poll_interval_seconds):
                    await stop.wait()


async def run_worker(settings: Settings, kinds: Sequence[JobKind] | None = None) -> None:
    """Run a job worker until SIGTERM or SIGINT, then stop it gracefully and return."""
    assert settings.database_url and settings.redis_url, "engines are resolved by run.py"
    pool = await db.create_pool(
        settings.database_url,
        min_size=1,
        max_size=settings.job_worker_concurrency + EXTRA_CONNECTIONS,
    )
    redis = Redis.from_url(settings.redis_url, health_check_interval=30)
    # Its own broker connection: what jobs publish reaches subscribers on every node.
    broker, presence = realtime.engines(settings, f"worker-{uuid.uuid4().hex[:8]}")
    if settings.broker == "memory":
        log.warning("BROKER=memory: events published by this worker reach no node")
    await broker.start()
    await presence.start()
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    worker: Worker | None = None
    services: Services | None = None

    def on_signal() -> None:
        stop_requested.set()
        if worker is not None:
            worker.stop()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal)
    try:
        await wait_for_schema(pool, settings, stop_requested)
        services = build_services(
            settings,
            pool=pool,
            redis=redis,
            tokens=token_service(settings),
            publisher=Publisher(broker),
            presence=presence,
        )
        worker = Worker(
            pool,
            create_registry(services, kinds),
            concurrency=settings.job_worker_concurrency,
            lease_seconds=settings.job_lease_seconds,
            poll_interval=settings.job_poll_interval_seconds,
            shutdown_grace=settings.job_shutdown_grace_seconds,
            progress_listeners=progress_listeners(services),
        )
        if not stop_requested.is_set():
            if services.object_store is not None:
                await services.object_store.start()
            try:
                await worker.run()
            finally:
                if services.object_store is not None:
                    await services.object_store.close()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        if services is not None:
            await services.catalogue.close()
        await presence.close()
        await broker.close()
        await redis.aclose()
        await pool.close()
