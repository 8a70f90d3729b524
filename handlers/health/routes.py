"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

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
    details: dict[str, str] = Field(
        default_factory=dict, description="Facts about this node that are not failures"
    )


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
    service = request.app[SERVICE]
    results = await service.checks()
    if any(value != "ok" for value in results.values()):
        raise ServiceUnavailable("Not ready", details={"checks": results, **service.notes})
    return Ready(status="ready", checks=results, details=service.notes)
