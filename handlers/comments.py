"""Comments: CLUTCH's "Comment Endpoints" (threads, replies, edits, deletes, likes)."""

from __future__ import annotations

import uuid

from aiohttp import web

from core.errors import Forbidden, NotFound
from core.tokens import AccessClaims
from handlers import events
from handlers.schemas.comments import (
    CommentCreate,
    CommentEdit,
    CommentList,
    CommentListQuery,
    CommentOut,
)
from handlers.schemas.common import SuccessMessage
from handlers.schemas.pagination import PageQuery, Pagination
from handlers.schemas.videos import LikeRequest, LikeResponse
from handlers.videos import caller_id, visible_video
from server import keys
from server.routing import Auth, Router, path_uuid
from storage import comments, likes, videos

routes = Router("comments")


async def _visible_comment(request: web.Request, user: AccessClaims | None) -> comments.Comment:
    """The comment of the path if the caller may see its video."""
    comment = await comments.get(
        request.app[keys.DB], path_uuid(request, "comment_id"), viewer=caller_id(user)
    )
    try:
        await visible_video(request, comment.video_id, user)
    except NotFound:
        raise NotFound("Comment not found") from None
    return comment


async def _publish_counts(request: web.Request, video_id: uuid.UUID) -> None:
    counts = await videos.counts(request.app[keys.DB], video_id)
    buffered = await request.app[keys.VIEWS].buffered(video_id)
    await events.video_update(
        request,
        video_id,
        view_count=counts.view_count + buffered,
        like_count=counts.like_count,
        dislike_count=counts.dislike_count,
        comment_count=counts.comment_count,
    )


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
    video = await visible_video(request, path_uuid(request, "video_id"), user)
    found, total = await comments.list_for_video(
        request.app[keys.DB],
        video.id,
        viewer=caller_id(user),
        sort=query.sort,
        page=query.page,
        limit=query.limit,
    )
    return CommentList(
        comments=[CommentOut.of(c) for c in found], pagination=Pagination.of(query, total)
    )


@routes.post(
    "/api/videos/{video_id}/comments",
    body=CommentCreate,
    response=CommentOut,
    status=201,
    auth=Auth.required,
    limit="comments",
    errors=(400, 401, 404, 429),
    summary="Comment on a video, or reply with parent_comment_id",
)
async def create_comment(
    request: web.Request, *, user: AccessClaims, body: CommentCreate
) -> CommentOut:
    video = await visible_video(request, path_uuid(request, "video_id"), user)
    comment = await comments.create(
        request.app[keys.DB],
        video_id=video.id,
        user_id=uuid.UUID(user.user_id),
        content=body.content,
        parent_id=body.parent_comment_id,
    )
    await events.comment_event(
        request, "new_comment", video.id, CommentOut.of(comment, for_everyone=True)
    )
    await _publish_counts(request, video.id)
    return CommentOut.of(comment)


@routes.get(
    "/api/comments/{comment_id}/replies",
    query=PageQuery,
    response=CommentList,
    auth=Auth.optional,
    errors=(400, 401, 404),
    summary="Replies to a comment, oldest first",
    description=(
        'CLUTCH says "Array of reply comments" with page and limit. The answer is '
        '`{"comments": [...], "pagination": {...}}`, the shape of the comment list, because a '
        "bare array cannot say whether more pages exist."
    ),
)
async def list_replies(
    request: web.Request, *, user: AccessClaims | None, query: PageQuery
) -> CommentList:
    parent = await _visible_comment(request, user)
    found, total = await comments.list_replies(
        request.app[keys.DB], parent.id, viewer=caller_id(user), page=query.page, limit=query.limit
    )
    return CommentList(
        comments=[CommentOut.of(c) for c in found], pagination=Pagination.of(query, total)
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
    comment = await _visible_comment(request, user)
    if comment.user_id != caller_id(user):
        raise Forbidden("Only the author can edit a comment")
    if comment.deleted:
        raise NotFound("Comment not found")
    edited = await comments.edit(
        request.app[keys.DB], comment.id, content=body.content, viewer=caller_id(user)
    )
    await events.comment_event(
        request, "comment_updated", edited.video_id, CommentOut.of(edited, for_everyone=True)
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
    comment = await _visible_comment(request, user)
    if comment.deleted:
        raise NotFound("Comment not found")
    video = await videos.get(request.app[keys.DB], comment.video_id)
    me = caller_id(user)
    if me not in (comment.user_id, video.author.id) and user.role != "admin":
        raise Forbidden("Only the comment's author, the video's author or an admin can delete it")
    await comments.delete(request.app[keys.DB], comment.id, video_id=comment.video_id)
    await events.comment_deleted(request, comment.video_id, comment.id)
    await _publish_counts(request, comment.video_id)
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
    comment = await _visible_comment(request, user)
    reaction = await likes.react_to_comment(
        request.app[keys.DB], user_id=uuid.UUID(user.user_id), comment_id=comment.id,
        action=body.action,
    )  # fmt: skip
    updated = await comments.get(request.app[keys.DB], comment.id)
    await events.comment_event(
        request, "comment_updated", updated.video_id, CommentOut.of(updated, for_everyone=True)
    )
    return LikeResponse(
        user_action=reaction.user_action,
        like_count=reaction.like_count,
        dislike_count=reaction.dislike_count,
    )
