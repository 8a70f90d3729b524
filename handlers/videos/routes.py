"""Videos over HTTP: CLUTCH's "Video Endpoints" (list, read, view, like) plus create, update
and delete. Each handler parses, calls one `VideoService` function and shapes the answer."""

from __future__ import annotations

from aiohttp import web

from core.tokens import AccessClaims
from handlers.videos.models import (
    VideoCreate,
    VideoList,
    VideoListQuery,
    VideoOut,
    VideoPatch,
    ViewRequest,
    ViewResponse,
)
from handlers.videos.service import PUBLISHER_ROLES, VideoService
from server.http.addresses import caller_ip
from server.http.models import LikeRequest, LikeResponse, SuccessMessage
from server.http.pagination import PageQuery, Pagination
from server.http.routing import Auth, Router, path_uuid
from storage.videos import videos

# This app's video service, set by the composition root.
SERVICE = web.AppKey("videos", VideoService)

routes = Router("videos")

FEED_SCOPE = "feed"  # what a cursor of the following feed is valid for


def _service(request: web.Request) -> VideoService:
    return request.app[SERVICE]


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
    body = await _service(request).list_page(query)
    return web.Response(body=body, content_type="application/json")


@routes.get(
    "/api/videos/{video_id}",
    response=VideoOut,
    auth=Auth.optional,
    errors=(400, 401, 404),
    summary="A video with its author; private ones only for their author and admins",
)
async def get_video(request: web.Request, *, user: AccessClaims | None) -> VideoOut:
    video = await _service(request).read(path_uuid(request, "video_id"), viewer=user)
    return VideoOut.of(video)


@routes.post(
    "/api/videos",
    body=VideoCreate,
    response=VideoOut,
    status=201,
    auth=Auth.required,
    roles=PUBLISHER_ROLES,
    limit="uploads",
    limit_valid_only=True,  # CLUTCH's 5 uploads per hour count videos made, not attempts
    errors=(400, 401, 403, 429),
    summary="Publish a video (creators and admins); with a video_url it is ready at once",
)
async def create_video(request: web.Request, *, user: AccessClaims, body: VideoCreate) -> VideoOut:
    video = await _service(request).create(author=user, fields=body.fields())
    return VideoOut.of(video)


async def _update(request: web.Request, user: AccessClaims, body: VideoPatch) -> VideoOut:
    video = await _service(request).update(
        path_uuid(request, "video_id"), editor=user, changes=body.changes()
    )
    return VideoOut.of(video)


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
    await _service(request).delete(path_uuid(request, "video_id"), editor=user)
    return SuccessMessage(message="Video deleted")


@routes.post(
    "/api/videos/{video_id}/view",
    body=ViewRequest,
    response=ViewResponse,
    auth=Auth.optional,
    errors=(400, 401, 404),
    summary="Count a view (once per viewer per window) and answer the new count",
    description=(
        "A viewer is the signed-in account, or for anonymous callers their network (IPv4"
        " address, IPv6 /64), whatever User-Agent they send: each counts once per video per"
        " VIEW_DEDUP_WINDOW_SECONDS. An anonymous network counts at most"
        " VIEW_MAX_ANONYMOUS_PER_IP views per window across all videos; further views answer"
        " the current count without adding to it."
    ),
)
async def record_view(
    request: web.Request, *, user: AccessClaims | None, body: ViewRequest
) -> ViewResponse:
    count = await _service(request).record_view(
        path_uuid(request, "video_id"),
        viewer=user,
        client_ip=caller_ip(request),
        watch_seconds=body.watch_time_seconds or 0.0,
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
    reaction = await _service(request).react(
        path_uuid(request, "video_id"), viewer=user, action=body.action
    )
    return LikeResponse(
        user_action=reaction.user_action,
        like_count=reaction.like_count,
        dislike_count=reaction.dislike_count,
    )


@routes.get(
    "/api/users/me/following/videos",
    query=PageQuery,
    response=VideoList,
    auth=Auth.required,
    errors=(400, 401),
    summary="Your feed: public videos of the users you follow, newest first",
)
async def following_feed(
    request: web.Request, *, user: AccessClaims, query: PageQuery
) -> VideoList:
    window = query.window(FEED_SCOPE, videos.KEY_TYPES["latest"])
    found, total = await _service(request).following_feed(follower=user, window=window)
    return VideoList(
        videos=[VideoOut.of(v) for v in found.items],
        pagination=Pagination.of(query, total, found, FEED_SCOPE),
    )
