"""Readiness: the engines a node needs answer in time, and every migration is applied.

`checks()` answers within `timeout_s` whatever the engines do. A check still running then
counts as "timeout" and is cancelled but not awaited: cleaning up after a hung engine (asyncpg
returning a connection whose query it cancelled) may take longer than a probe may, and is
bounded by the engine deadlines of the pool and the Redis client.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg
from redis.asyncio import Redis
from redis.exceptions import TimeoutError as RedisTimeoutError

from storage import migrate

log = logging.getLogger("streamhub.health")


class HealthService:
    def __init__(
        self,
        *,
        db: asyncpg.Pool,
        redis: Redis,
        timeout_s: float = 2.0,
        notes: dict[str, str] | None = None,
    ) -> None:
        self.db = db
        # What operators should know about this node that is not a failure (e.g. the demo
        # catalogue), shown by /readyz as `details`.
        self.notes = dict(notes or {})
        self.redis = redis
        self.timeout_s = timeout_s
        # Checks given up on, kept referenced until they finish on their own.
        self._abandoned: set[asyncio.Task[str]] = set()

    async def checks(self) -> dict[str, str]:
        """Each engine's state: "ok", or what is wrong with it."""
        probes = {"postgres": self._postgres(), "redis": self._redis()}
        tasks = {name: asyncio.ensure_future(probe) for name, probe in probes.items()}
        await asyncio.wait(tasks.values(), timeout=self.timeout_s)
        return {name: self._outcome(name, task) for name, task in tasks.items()}

    def _outcome(self, name: str, task: asyncio.Task[str]) -> str:
        if not task.done():
            task.cancel()
            self._abandoned.add(task)
            task.add_done_callback(self._forget)
            return "timeout"
        exc = task.exception()
        if exc is None:
            return task.result()
        if isinstance(exc, TimeoutError | RedisTimeoutError):  # an engine's own deadline
            return "timeout"
        log.warning("readiness check failed", extra={"check": name, "error": repr(exc)})
        return f"unreachable: {type(exc).__name__}"

    def _forget(self, task: asyncio.Task[str]) -> None:
        self._abandoned.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log it as never retrieved

    async def _postgres(self) -> str:
        async with self.db.acquire() as conn:
            pending = await migrate.pending_versions(conn)
        return "ok" if not pending else f"pending migrations: {pending}"

    async def _redis(self) -> str:
        return "ok" if await self.redis.ping() else "no pong"
