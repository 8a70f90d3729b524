"""Realtime events of content changes, published through the broker (`publish(channel, event)`).

Shapes follow CLUTCH's "WebSocket Events": `video_update` and `new_comment` on `video:{id}`,
plus `comment_updated`, `comment_deleted`, and `new_follower` on `user:{id}`. One more,
`access_changed`, is a control event for the realtime nodes and never reaches a client, and
`video_lists_changed` on `internal:video-lists` tells every node to clear its list cache.

Failure policy: an event is published after its change is committed. If publishing fails the
change stands and the request still succeeds (the failure is logged): answering an error would
make the client retry a change that already happened. Subscribers catch up from the REST API.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from channels import internal
from channels.authz import VideoAccess, access_event
from server import keys
from storage import videos

log = logging.getLogger("streamhub.events")


async def publish(request: web.Request, channel: str, event: dict[str, Any]) -> None:
    try:
        await request.app[keys.BROKER].publish(channel, event)
    except Exception:
        log.exception("event not published", extra={"channel": channel, "type": event.get("type")})


def video_access(video: videos.Video) -> VideoAccess:
    """Who may follow the video's channel: the rule of `Video.visible_to` for anyone else."""
    public = video.visible_to(None, None)
    return VideoAccess(author_id=str(video.author.id), visibility="public" if public else "private")


async def access_changed(
    request: web.Request, video_id: uuid.UUID, video: videos.Video | None
) -> None:
    """Tell every node to drop subscribers of `video:{id}` who may no longer read it.

    `video` is the video as committed, None once deleted. Publish it after the commit and
    before any later event of the video: subscribers are re-checked in channel order. If it
    cannot be published (logged), subscribers keep their subscription until they resubscribe
    or their node's broker connection restarts (see channels/node.py).
    """
    access = video_access(video) if video is not None else None
    await publish(request, f"video:{video_id}", access_event(access))


async def video_lists_changed(request: web.Request) -> None:
    """Tell every node (this one too) to clear its list cache; after the video's commit.

    If it cannot be published (Redis down; logged), other nodes serve their cached lists
    until `LIST_CACHE_SECONDS` expires them, as before this notice existed.
    """
    await publish(request, internal.VIDEO_LISTS, {"type": "video_lists_changed"})


async def video_update(
    request: web.Request,
    video_id: uuid.UUID,
    *,
    view_count: int,
    like_count: int,
    dislike_count: int,
    comment_count: int,
) -> None:
    await publish(
        request,
        f"video:{video_id}",
        {
            "type": "video_update",
            "video_id": str(video_id),
            "data": {
                "view_count": view_count,
                "like_count": like_count,
                "dislike_count": dislike_count,
                "comment_count": comment_count,
            },
        },
    )


async def comment_event(
    request: web.Request, kind: str, video_id: uuid.UUID, comment: BaseModel
) -> None:
    """`new_comment` or `comment_updated`, carrying the comment as the REST API shows it."""
    await publish(
        request,
        f"video:{video_id}",
        {"type": kind, "video_id": str(video_id), "comment": comment.model_dump(mode="json")},
    )


async def comment_deleted(request: web.Request, video_id: uuid.UUID, comment_id: uuid.UUID) -> None:
    await publish(
        request,
        f"video:{video_id}",
        {"type": "comment_deleted", "video_id": str(video_id), "comment_id": str(comment_id)},
    )


async def new_follower(
    request: web.Request, followed_id: uuid.UUID, follower: dict[str, Any]
) -> None:
    await publish(request, f"user:{followed_id}", {"type": "new_follower", "follower": follower})
