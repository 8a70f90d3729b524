"""Live streams: a creator sets their video live or offline; everyone can read the status.

Both answers use CLUTCH's `live_stream` message shape, and a change is also published on
`video:{id}` so subscribers see it. `viewer_count` is the number of sockets subscribed to the
video's channel on every node (presence, see channels/presence.py).
"""

from __future__ import annotations

import uuid
from typing import Literal

from aiohttp import web
from pydantic import BaseModel

from core.errors import Forbidden
from core.tokens import AccessClaims
from handlers import events
from handlers.schemas.common import RequestModel
from handlers.videos import visible_video
from server import keys
from server.routing import Auth, Router, path_uuid
from storage import live

routes = Router("live")


class LiveRequest(RequestModel):
    status: Literal["live", "offline"]


class LiveStream(BaseModel):
    type: Literal["live_stream"] = "live_stream"
    video_id: uuid.UUID
    status: Literal["live", "offline"]
    viewer_count: int


async def _live_stream(request: web.Request, video_id: uuid.UUID, status: str) -> LiveStream:
    viewers = await request.app[keys.REALTIME].presence.count(f"video:{video_id}")
    return LiveStream(video_id=video_id, status=status, viewer_count=viewers)


@routes.post(
    "/api/videos/{video_id}/live",
    body=LiveRequest,
    response=LiveStream,
    auth=Auth.required,
    errors=(400, 401, 403, 404),
    summary="Set your video live or offline; subscribers get a live_stream message",
)
async def set_live(request: web.Request, *, user: AccessClaims, body: LiveRequest) -> LiveStream:
    video = await visible_video(request, path_uuid(request, "video_id"), user)
    if str(video.author.id) != user.user_id and user.role != "admin":
        raise Forbidden("Only the video's author can start or stop its live stream")
    state = await live.set_status(request.app[keys.DB], video_id=video.id, status=body.status)
    message = await _live_stream(request, video.id, state.status)
    await events.publish(request, f"video:{video.id}", message.model_dump(mode="json"))
    return message


@routes.get(
    "/api/videos/{video_id}/live",
    response=LiveStream,
    auth=Auth.optional,
    errors=(401, 404),
    summary="Live status of a video and how many sockets watch it across all nodes",
)
async def get_live(request: web.Request, *, user: AccessClaims | None) -> LiveStream:
    video = await visible_video(request, path_uuid(request, "video_id"), user)
    state = await live.get_status(request.app[keys.DB], video.id)
    return await _live_stream(request, video.id, state.status)
