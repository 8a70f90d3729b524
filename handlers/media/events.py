"""What the media pipeline publishes: `video_processing` on the uploader's `user:{id}` and on
the video's `video:{id}` (docs/PROTOCOL.md): the state, the percent while transcoding, and the
reason of an `error`. Published after the state it reports is committed, with the failure
policy of `channels.publisher.Publisher` (a lost event never fails the job or the request).
"""

from __future__ import annotations

import uuid
from typing import Literal

from channels.protocol import Event
from channels.publisher import Publisher
from handlers.accounts.service import user_channel
from handlers.videos.service import video_channel

Status = Literal["uploaded", "processing", "ready", "error"]


class VideoProcessing(Event):
    type: Literal["video_processing"] = "video_processing"
    video_id: uuid.UUID
    status: Status
    # 0-100 while `processing`; 100 when `ready`; null otherwise.
    percent: float | None = None
    # Why processing failed (`error` only).
    error: str | None = None


EVENTS: tuple[type[Event], ...] = (VideoProcessing,)


class MediaEvents:
    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher

    async def processing(
        self,
        *,
        video_id: uuid.UUID,
        author_id: uuid.UUID,
        status: Status,
        percent: float | None = None,
        error: str | None = None,
    ) -> None:
        """The same event on the author's channel and on the video's."""
        event = VideoProcessing(
            video_id=video_id, status=status, percent=percent, error=error or None
        )
        await self.publisher.publish(user_channel(author_id), event)
        await self.publisher.publish(video_channel(video_id), event)
