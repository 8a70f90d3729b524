"""What the social domain publishes: comment events on `video:{id}` and `new_follower` on
`user:{id}` (CLUTCH's "WebSocket Events"; shapes in docs/PROTOCOL.md).

A comment event carries the comment as the REST API shows it to everyone (no per-viewer
interaction). Publishing follows `channels.publisher.Publisher`'s failure policy.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from channels.publisher import Publisher
from handlers.social.comment_models import CommentOut
from handlers.videos.service import video_channel
from storage.social.comments import Comment


def user_channel(user_id: uuid.UUID | str) -> str:
    return f"user:{user_id}"


class SocialEvents:
    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher

    async def comment(
        self, kind: Literal["new_comment", "comment_updated"], comment: Comment
    ) -> None:
        await self.publisher.publish(
            video_channel(comment.video_id),
            {
                "type": kind,
                "video_id": str(comment.video_id),
                "comment": CommentOut.of(comment, for_everyone=True).model_dump(mode="json"),
            },
        )

    async def comment_deleted(self, video_id: uuid.UUID, comment_id: uuid.UUID) -> None:
        await self.publisher.publish(
            video_channel(video_id),
            {"type": "comment_deleted", "video_id": str(video_id), "comment_id": str(comment_id)},
        )

    async def new_follower(self, followed_id: uuid.UUID, follower: dict[str, Any]) -> None:
        await self.publisher.publish(
            user_channel(followed_id), {"type": "new_follower", "follower": follower}
        )
