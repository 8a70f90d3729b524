"""Comments over HTTP: CLUTCH's "Comment Endpoints" (threads, replies, edits, deletes, likes)."""

from __future__ import annotations

from aiohttp import web

from core.tokens import AccessClaims
from handlers.social.comment_models import (
    CommentCreate,
    CommentEdit,
    CommentList,
    CommentListQuery,
    CommentOut,
    ReplyList,
)
from handlers.social.comment_service import CommentService
from server.http.models import LikeRequest, LikeResponse, SuccessMessage
from server.http.pagination import PAGE_HEADERS, PageQuery, Pagination, page_headers
from server.http.responses import json_response
from server.http.routing import Auth, Router, path_uuid
from storage.social import comments

# This app's comment service, set by the composition root.
SERVICE = web.AppKey("comments", CommentService)

routes = Router("comments")


def _service(request: web.Request) -> CommentService:
    return request.app[SERVICE]


@routes.get(
    "/api/videos/{video_id}/comments",
    query=CommentListQuery,
    response=CommentList,
    auth=Auth.optional,
    errors=(400, 401, 404),
    summary="Top-level comments of a video, newest|oldest|top, with the caller's reactions",
)
async def list_comments(
    request: web.Request, *, user: AccessClaims | None, query: CommentListQuery
) -> CommentList:
    scope = f"comments:{query.sort}"
    found, total = await _service(request).thread(
        path_uuid(request, "video_id"),
        viewer=user,
        sort=query.sort,
        window=query.window(scope, comments.KEY_TYPES[query.sort]),
    )
    return CommentList(
        comments=[CommentOut.of(c) for c in found.items],
        pagination=Pagination.of(query, total, found, scope),
    )


@routes.post(
    "/api/videos/{video_id}/comments",
    body=CommentCreate,
    response=CommentOut,
    status=201,
    auth=Auth.required,
    limit="comments",
    errors=(400, 401, 404, 409, 429),
    summary="Comment on a video, or reply with parent_comment_id",
)
async def create_comment(
    request: web.Request, *, user: AccessClaims, body: CommentCreate
) -> CommentOut:
    comment = await _service(request).create(
        path_uuid(request, "video_id"),
        author=user,
        content=body.content,
        parent_id=body.parent_comment_id,
    )
    return CommentOut.of(comment)


REPLIES_SCOPE = "replies"  # what a cursor of a reply list is valid for


@routes.get(
    "/api/comments/{comment_id}/replies",
    query=PageQuery,
    response=ReplyList,
    response_headers=PAGE_HEADERS,
    auth=Auth.optional,
    errors=(400, 401, 404),
    summary="Replies to a comment, oldest first: a JSON array, its pagination in headers",
    description=(
        'CLUTCH\'s "Array of reply comments": the body is the array alone. Pagination travels'
        ' in headers: `X-Total-Count` (replies in all), `Link` (`rel="next"` while more'
        " follow; with `page`, also `prev`, `first` and `last`) and `X-Next-Cursor` (pass it"
        " as `cursor` for the replies after this page)."
    ),
)
async def list_replies(
    request: web.Request, *, user: AccessClaims | None, query: PageQuery
) -> web.Response:
    found, total = await _service(request).replies(
        path_uuid(request, "comment_id"),
        viewer=user,
        window=query.window(REPLIES_SCOPE, comments.REPLY_KEY_TYPES),
    )
    pagination = Pagination.of(query, total, found, REPLIES_SCOPE)
    return json_response(
        ReplyList([CommentOut.of(c) for c in found.items]),
        headers=page_headers(request.rel_url, query, pagination),
    )


@routes.put(
    "/api/comments/{comment_id}",
    body=CommentEdit,
    response=CommentOut,
    auth=Auth.required,
    errors=(400, 401, 403, 404),
    summary="Edit your comment (marks it edited)",
)
async def edit_comment(
    request: web.Request, *, user: AccessClaims, body: CommentEdit
) -> CommentOut:
    edited = await _service(request).edit(
        path_uuid(request, "comment_id"), editor=user, content=body.content
    )
    return CommentOut.of(edited)


@routes.delete(
    "/api/comments/{comment_id}",
    response=SuccessMessage,
    auth=Auth.required,
    errors=(400, 401, 403, 404),
    summary="Delete a comment (its author, the video's author or an admin)",
    description="A comment with replies keeps its place in the thread, its content removed.",
)
async def delete_comment(request: web.Request, *, user: AccessClaims) -> SuccessMessage:
    await _service(request).delete(path_uuid(request, "comment_id"), editor=user)
    return SuccessMessage(message="Comment deleted")


@routes.post(
    "/api/comments/{comment_id}/like",
    body=LikeRequest,
    response=LikeResponse,
    auth=Auth.required,
    limit="likes",
    errors=(400, 401, 404, 429),
    summary="Like, dislike or remove your reaction to a comment (idempotent)",
)
async def like_comment(
    request: web.Request, *, user: AccessClaims, body: LikeRequest
) -> LikeResponse:
    reaction = await _service(request).react(
        path_uuid(request, "comment_id"), viewer=user, action=body.action
    )
    return LikeResponse(
        user_action=reaction.user_action,
        like_count=reaction.like_count,
        dislike_count=reaction.dislike_count,
    )
