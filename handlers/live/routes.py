"""Live streams over HTTP: set a video live or offline, read its status."""

from __future__ import annotations

from aiohttp import web

from core.tokens import AccessClaims
from handlers.live.models import LiveRequest, LiveStream
from handlers.live.service import LiveService
from server.http.routing import Auth, Router, path_uuid

# This app's live-stream service, set by the composition root.
SERVICE = web.AppKey("live", LiveService)

routes = Router("live")


@routes.post(
    "/api/videos/{video_id}/live",
    body=LiveRequest,
    response=LiveStream,
    auth=Auth.required,
    errors=(400, 401, 403, 404),
    summary="Set your video live or offline; subscribers get a live_stream message",
)
async def set_live(request: web.Request, *, user: AccessClaims, body: LiveRequest) -> LiveStream:
    return await request.app[SERVICE].set_status(
        path_uuid(request, "video_id"), viewer=user, status=body.status
    )


@routes.get(
    "/api/videos/{video_id}/live",
    response=LiveStream,
    auth=Auth.optional,
    errors=(401, 404),
    summary="Live status of a video and how many sockets watch it across all nodes",
)
async def get_live(request: web.Request, *, user: AccessClaims | None) -> LiveStream:
    return await request.app[SERVICE].status(path_uuid(request, "video_id"), viewer=user)
