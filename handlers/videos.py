"""Videos: CLUTCH's "Video Endpoints" (list, read, view, like) plus create, update and delete."""

from __future__ import annotations

import uuid

from aiohttp import web

from core.errors import Forbidden, NotFound
from core.tokens import AccessClaims
from counters.views import viewer_key
from handlers import events
from handlers.schemas.common import SuccessMessage
from handlers.schemas.videos import (
    LikeRequest,
    LikeResponse,
    VideoCreate,
    VideoList,
    VideoListQuery,
    VideoOut,
    VideoPatch,
    ViewRequest,
    ViewResponse,
)
from server import keys, ratelimit
from server.routing import Auth, Router, path_uuid
from storage import likes, videos

routes = Router("videos")

PUBLISHER_ROLES = frozenset({"creator", "admin"})


def caller_id(user: AccessClaims | None) -> uuid.UUID | None:
    return uuid.UUID(user.user_id) if user else None


async def visible_video(
    request: web.Request, video_id: uuid.UUID, user: AccessClaims | None
) -> videos.Video:
    """The video if this caller may see it; NOT_FOUND otherwise, so private ids do not leak."""
    video = await videos.get(request.app[keys.DB], video_id)
    if not video.visible_to(caller_id(user), user.role if user else None):
        raise NotFound("Video not found")
    return video


async def _managed_video(request: web.Request, user: AccessClaims) -> videos.Video:
    video = await visible_video(request, path_uuid(request, "video_id"), user)
    if video.author.id != caller_id(user) and user.role != "admin":
        raise Forbidden("Only the video's author or an admin can change it")
    return video


@routes.get(
    "/api/videos",
    query=VideoListQuery,
    response=VideoList,
    errors=(400,),
    summary="List public videos: filter by category, tags or text; sort latest|popular|trending",
    description=(
        "Answers may be up to LIST_CACHE_SECONDS old (default 5 s): counters, `total_items`"
        " and which videos are listed. A node that creates, edits or deletes a video answers"
        " its lists fresh at once; other nodes within that time."
    ),
)
async def list_videos(request: web.Request, *, query: VideoListQuery) -> web.Response:
    body = await request.app[keys.VIDEO_LISTS].page(request.app[keys.DB], query)
    return web.Response(body=body, content_type="application/json")


@routes.get(
    "/api/videos/{video_id}",
    response=VideoOut,
    auth=Auth.optional,
    errors=(400, 401, 404),
    summary="A video with its author; private ones only for their author and admins",
)
async def get_video(request: web.Request, *, user: AccessClaims | None) -> VideoOut:
    video = await visible_video(request, path_uuid(request, "video_id"), user)
    buffered = await request.app[keys.VIEWS].buffered(video.id)
    return VideoOut.of(video, buffered_views=buffered)


@routes.post(
    "/api/videos",
    body=VideoCreate,
    response=VideoOut,
    status=201,
    auth=Auth.required,
    limit="uploads",
    errors=(400, 401, 403),
    summary="Publish a video (creators and admins); with a video_url it is ready at once",
)
async def create_video(request: web.Request, *, user: AccessClaims, body: VideoCreate) -> VideoOut:
    if user.role not in PUBLISHER_ROLES:
        raise Forbidden("Only creators and admins can publish videos")
    video = await videos.create(
        request.app[keys.DB], author_id=uuid.UUID(user.user_id), fields=body.fields()
    )
    await _lists_changed(request)
    return VideoOut.of(video)


async def _lists_changed(request: web.Request) -> None:
    """After a video's commit: clear this node's lists now, then every node's through the broker.

    The local clear does not wait for Redis, so the author sees the change on this node even
    when the notice cannot be published (see handlers.video_lists for the guarantees).
    """
    request.app[keys.VIDEO_LISTS].invalidate()
    await events.video_lists_changed(request)


async def _update(request: web.Request, user: AccessClaims, body: VideoPatch) -> VideoOut:
    video = await _managed_video(request, user)
    updated = await videos.update(request.app[keys.DB], video.id, body.changes())
    if not updated.visible_to(None, None):
        # Sent on every edit that leaves it hidden, so a retried edit re-sends a lost one.
        await events.access_changed(request, video.id, updated)
    await _lists_changed(request)
    buffered = await request.app[keys.VIEWS].buffered(video.id)
    return VideoOut.of(updated, buffered_views=buffered)


@routes.patch(
    "/api/videos/{video_id}",
    body=VideoPatch,
    response=VideoOut,
    auth=Auth.required,
    errors=(400, 401, 403, 404),
    summary="Change some fields of a video (author or admin)",
)
async def patch_video(request: web.Request, *, user: AccessClaims, body: VideoPatch) -> VideoOut:
    return await _update(request, user, body)


@routes.put(
    "/api/videos/{video_id}",
    body=VideoPatch,
    response=VideoOut,
    auth=Auth.required,
    errors=(400, 401, 403, 404),
    summary="Update a video (author or admin); fields not sent keep their value",
    description="Same as PATCH: clients send the fields they edit, so nothing is reset.",
)
async def put_video(request: web.Request, *, user: AccessClaims, body: VideoPatch) -> VideoOut:
    return await _update(request, user, body)


@routes.delete(
    "/api/videos/{video_id}",
    response=SuccessMessage,
    auth=Auth.required,
    errors=(400, 401, 403, 404),
    summary="Delete a video with its comments and likes (author or admin)",
)
async def delete_video(request: web.Request, *, user: AccessClaims) -> SuccessMessage:
    video = await _managed_video(request, user)
    await videos.delete(request.app[keys.DB], video.id)
    await events.access_changed(request, video.id, None)
    await _lists_changed(request)
    return SuccessMessage(message="Video deleted")


@routes.post(
    "/api/videos/{video_id}/view",
    body=ViewRequest,
    response=ViewResponse,
    auth=Auth.optional,
    errors=(400, 401, 404),
    summary="Count a view (once per viewer per window) and answer the new count",
)
async def record_view(
    request: web.Request, *, user: AccessClaims | None, body: ViewRequest
) -> ViewResponse:
    video = await visible_video(request, path_uuid(request, "video_id"), user)
    trusted = request.app[keys.TRUSTED_PROXIES]
    viewer = viewer_key(
        user_id=user.user_id if user else None,
        ip=ratelimit.client_ip(request, trusted),
        user_agent=request.headers.get("User-Agent"),
    )
    watched = body.watch_time_seconds or 0.0
    if video.duration > 0:
        # One report cannot claim more watching than the video holds (inflated metrics).
        watched = min(watched, float(video.duration))
    recorded = await request.app[keys.VIEWS].record(video.id, viewer, watch_seconds=watched)
    count = video.view_count + recorded.buffered
    if recorded.counted:
        await events.video_update(
            request,
            video.id,
            view_count=count,
            like_count=video.like_count,
            dislike_count=video.dislike_count,
            comment_count=video.comment_count,
        )
    return ViewResponse(new_view_count=count)


@routes.post(
    "/api/videos/{video_id}/like",
    body=LikeRequest,
    response=LikeResponse,
    auth=Auth.required,
    limit="likes",
    errors=(400, 401, 404, 429),
    summary="Like, dislike or remove your reaction (idempotent)",
)
async def like_video(
    request: web.Request, *, user: AccessClaims, body: LikeRequest
) -> LikeResponse:
    video = await visible_video(request, path_uuid(request, "video_id"), user)
    reaction = await likes.react_to_video(
        request.app[keys.DB], user_id=uuid.UUID(user.user_id), video_id=video.id, action=body.action
    )
    buffered = await request.app[keys.VIEWS].buffered(video.id)
    await events.video_update(
        request,
        video.id,
        view_count=reaction.view_count + buffered,
        like_count=reaction.like_count,
        dislike_count=reaction.dislike_count,
        comment_count=reaction.comment_count,
    )
    return LikeResponse(
        user_action=reaction.user_action,
        like_count=reaction.like_count,
        dislike_count=reaction.dislike_count,
    )
