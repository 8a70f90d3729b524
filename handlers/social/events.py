"""What the social domain publishes: comment events on `video:{id}` and `new_follower` on
`user:{id}` (CLUTCH's "WebSocket Events"; shapes in docs/PROTOCOL.md).

A comment event carries the comment as the REST API shows it to everyone (no per-viewer
interaction). Publishing follows `channels.publisher.Publisher`'s failure policy.
"""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict

from channels.protocol import Event
from channels.publisher import Publisher
from core.tokens import AccessClaims
from handlers.accounts.service import user_channel
from handlers.social.comment_models import CommentOut
from handlers.videos.service import video_channel
from storage.social.comments import Comment


class NewComment(Event):
    type: Literal["new_comment"] = "new_comment"
    video_id: uuid.UUID
    comment: CommentOut


class CommentUpdated(Event):
    type: Literal["comment_updated"] = "comment_updated"
    video_id: uuid.UUID
    comment: CommentOut


class CommentDeleted(Event):
    type: Literal["comment_deleted"] = "comment_deleted"
    video_id: uuid.UUID
    comment_id: uuid.UUID


class Follower(BaseModel):
    """The new follower as their token shows them (no round trip to read their profile)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: uuid.UUID
    username: str
    display_name: str
    avatar_url: str


class NewFollower(Event):
    type: Literal["new_follower"] = "new_follower"
    follower: Follower


EVENTS: tuple[type[Event], ...] = (NewComment, CommentUpdated, CommentDeleted, NewFollower)


class SocialEvents:
    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher

    async def comment(
        self, kind: Literal["new_comment", "comment_updated"], comment: Comment
    ) -> None:
        shown = CommentOut.of(comment, for_everyone=True)
        model = NewComment if kind == "new_comment" else CommentUpdated
        event = model(video_id=comment.video_id, comment=shown)
        await self.publisher.publish(video_channel(comment.video_id), event)

    async def comment_deleted(self, video_id: uuid.UUID, comment_id: uuid.UUID) -> None:
        event = CommentDeleted(video_id=video_id, comment_id=comment_id)
        await self.publisher.publish(video_channel(video_id), event)

    async def new_follower(self, followed_id: uuid.UUID, follower: AccessClaims) -> None:
        event = NewFollower(
            follower=Follower(
                id=uuid.UUID(follower.user_id),
                username=follower.username,
                display_name=follower.display_name,
                avatar_url=follower.avatar_url,
            )
        )
        await self.publisher.publish(user_channel(followed_id), event)
