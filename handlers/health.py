"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from pydantic import BaseModel

from core.errors import ServiceUnavailable
from server import keys
from server.routing import Router
from storage import migrate

routes = Router("health")
log = logging.getLogger("streamhub.health")

# A probe must answer quickly even when an engine hangs: a slow check counts as a failure.
CHECK_TIMEOUT_S = 2.0


class Alive(BaseModel):
    status: str = "ok"


class Ready(BaseModel):
    status: str
    checks: dict[str, str]


@routes.get("/healthz", response=Alive, summary="The process is up (no dependencies checked)")
async def healthz(request: web.Request) -> Alive:
    return Alive()


async def _postgres(request: web.Request) -> str:
    async with request.app[keys.DB].acquire() as conn:
        pending = await migrate.pending_versions(conn)
    return "ok" if not pending else f"pending migrations: {pending}"


async def _redis(request: web.Request) -> str:
    return "ok" if await request.app[keys.REDIS].ping() else "no pong"


async def _check(name: str, probe: asyncio.Future[str] | asyncio.Task[str]) -> tuple[str, str]:
    try:
        return name, await asyncio.wait_for(probe, CHECK_TIMEOUT_S)
    except TimeoutError:
        return name, "timeout"
    except Exception as exc:
        log.warning("readiness check failed", extra={"check": name, "error": repr(exc)})
        return name, f"unreachable: {type(exc).__name__}"


@routes.get(
    "/readyz",
    response=Ready,
    errors=(503,),
    summary="Postgres and Redis reachable and every migration applied",
)
async def readyz(request: web.Request) -> Ready:
    results = dict(
        await asyncio.gather(
            _check("postgres", asyncio.ensure_future(_postgres(request))),
            _check("redis", asyncio.ensure_future(_redis(request))),
        )
    )
    if any(value != "ok" for value in results.values()):
        raise ServiceUnavailable("Not ready", details={"checks": results})
    return Ready(status="ready", checks=results)
