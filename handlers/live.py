"""Live streams: a creator sets their video live or offline; everyone can read the status.

Both answers use CLUTCH's `live_stream` message shape, and a change is also published on
`video:{id}` so subscribers see it. `viewer_count` is the number of sockets subscribed to the
video's channel on every node (presence, see channels/presence.py). While a video is live, a
change of its viewer count is pushed too (`push_viewer_counts`), at most once per interval.
"""

from __future__ import annotations

import asyncio
import logging
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

log = logging.getLogger("streamhub.live")
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
    # Subscribers have this count now: the viewer-count push starts from it.
    presence = request.app[keys.REALTIME].presence
    await presence.claim_change(f"video:{video.id}", message.viewer_count, 0)
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


async def push_viewer_counts(app: web.Application, *, interval_s: float) -> None:
    """Until cancelled: every `interval_s`, for each live video this node has subscribers of,
    publish `live_stream` if its viewer count changed. All nodes try; presence lets one push
    per change and at most one per `interval_s` per video, so a change arrives within about
    two intervals. Videos nobody watches on this node are left to the nodes that have them.
    """
    while True:
        await asyncio.sleep(interval_s)
        try:
            await _push_changed_counts(app, interval_s)
        except Exception as exc:  # Postgres or Redis down: the next tick tries again
            log.warning("viewer count push failed", extra={"error": repr(exc)})


async def _push_changed_counts(app: web.Application, interval_s: float) -> None:
    node = app[keys.REALTIME]
    watched = [_video_id(channel) for channel in node.hub.channel_counts()]
    video_ids = [video_id for video_id in watched if video_id is not None]
    if not video_ids:
        return
    for video_id in await live.live_among(app[keys.DB], video_ids):
        channel = f"video:{video_id}"
        viewers = await node.presence.count(channel)
        if await node.presence.claim_change(channel, viewers, interval_s):
            message = LiveStream(video_id=video_id, status="live", viewer_count=viewers)
            await app[keys.BROKER].publish(channel, message.model_dump(mode="json"))


def _video_id(channel: str) -> uuid.UUID | None:
    kind, _, rest = channel.partition(":")
    if kind != "video":
        return None
    try:
        return uuid.UUID(rest)
    except ValueError:
        return None
