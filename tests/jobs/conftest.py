"""Fixtures for the job runner tests: a pool on the test database and in-process workers."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, TypeVar

import asyncpg
import pytest

from devservices.stack import Engines
from jobs.registry import JobKind, Registry
from jobs.worker import Worker
from storage import db

T = TypeVar("T")
WAIT_TIMEOUT_S = 30.0
_ids = itertools.count(1)


@pytest.fixture
async def pool(engines: Engines) -> AsyncIterator[asyncpg.Pool]:
    pool = await db.create_pool(engines.database_url, min_size=1, max_size=12)
    yield pool
    await pool.close()


async def wait_for(
    check: Callable[[], Awaitable[T]], what: str, within: float = WAIT_TIMEOUT_S
) -> T:
    """Poll `check` until it returns something truthy; fail after a generous timeout."""
    try:
        async with asyncio.timeout(within):
            while True:
                value = await check()
                if value:
                    return value
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out after {within} s waiting for {what}") from None


def make_worker(pool: asyncpg.Pool, kinds: Iterable[JobKind], **options: Any) -> Worker:
    defaults: dict[str, Any] = {
        "concurrency": 2,
        "lease_seconds": 10.0,
        "poll_interval": 0.5,
        "shutdown_grace": 5.0,
        "worker_id": f"test-worker-{next(_ids)}",
    }
    return Worker(pool, Registry(kinds), **{**defaults, **options})


@contextlib.asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[Worker]:
    """Run `worker` in a task for the block; stop it gracefully after."""
    task = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.stop()
        await asyncio.wait_for(task, WAIT_TIMEOUT_S)


@pytest.fixture(autouse=True)
def _clean(clean_state: None) -> None:
    """Every job test starts from empty tables and an empty Redis database."""
