"""Running the app's own job kinds in the test's event loop, on the app's engines.

A node's jobs run in a worker process (server/worker.py) built from the same services; in
process, tests share the app's in-memory broker, so events a job publishes reach the test's
sockets exactly as a separate worker's reach them through Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence

from aiohttp import web

from jobs.registry import JobKind
from jobs.worker import Worker
from server.app import DB, SERVICES
from server.worker import create_registry


@contextlib.asynccontextmanager
async def running_worker(
    app: web.Application, kinds: Sequence[JobKind] | None = None, *, poll_interval: float = 0.05
) -> AsyncIterator[Worker]:
    """A worker of the app's job kinds (or `kinds`) until the block ends."""
    worker = Worker(
        app[DB],
        create_registry(app[SERVICES], kinds),
        concurrency=2,
        lease_seconds=30,
        poll_interval=poll_interval,
        shutdown_grace=5,
    )
    task = asyncio.create_task(worker.run(), name="test-worker")
    try:
        yield worker
    finally:
        worker.stop()
        await asyncio.wait_for(task, 30)
