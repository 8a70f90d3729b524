"""Readiness: the engines a node needs answer in time, and every migration is applied."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

import asyncpg
from redis.asyncio import Redis

from storage import migrate

log = logging.getLogger("streamhub.health")

# A probe must answer quickly even when an engine hangs: a slow check counts as a failure.
CHECK_TIMEOUT_S = 2.0


class HealthService:
    def __init__(self, *, db: asyncpg.Pool, redis: Redis) -> None:
        self.db = db
        self.redis = redis

    async def checks(self) -> dict[str, str]:
        """Each engine's state: "ok", or what is wrong with it."""
        results = await asyncio.gather(
            _check("postgres", self._postgres()), _check("redis", self._redis())
        )
        return dict(results)

    async def _postgres(self) -> str:
        async with self.db.acquire() as conn:
            pending = await migrate.pending_versions(conn)
        return "ok" if not pending else f"pending migrations: {pending}"

    async def _redis(self) -> str:
        return "ok" if await self.redis.ping() else "no pong"


async def _check(name: str, probe: Awaitable[str]) -> tuple[str, str]:
    try:
        return name, await asyncio.wait_for(probe, CHECK_TIMEOUT_S)
    except TimeoutError:
        return name, "timeout"
    except Exception as exc:
        log.warning("readiness check failed", extra={"check": name, "error": repr(exc)})
        return name, f"unreachable: {type(exc).__name__}"
