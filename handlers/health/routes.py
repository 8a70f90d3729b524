"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from core.errors import ServiceUnavailable
from handlers.health.service import HealthService
from server.http.routing import Router

# This app's readiness checks, set by the composition root.
SERVICE = web.AppKey("health", HealthService)

routes = Router("health")


class Alive(BaseModel):
    status: str = "ok"


class Ready(BaseModel):
    status: str
    checks: dict[str, str]


@routes.get("/healthz", response=Alive, summary="The process is up (no dependencies checked)")
async def healthz(request: web.Request) -> Alive:
    return Alive()


@routes.get(
    "/readyz",
    response=Ready,
    errors=(503,),
    summary="Postgres and Redis reachable and every migration applied",
)
async def readyz(request: web.Request) -> Ready:
    results = await request.app[SERVICE].checks()
    if any(value != "ok" for value in results.values()):
        raise ServiceUnavailable("Not ready", details={"checks": results})
    return Ready(status="ready", checks=results)
