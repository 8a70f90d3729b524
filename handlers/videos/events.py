"""What the videos domain publishes: CLUTCH's `video_update` on `video:{id}`, the control event
that re-checks who may read that channel, and the notice that clears every node's lists.

Shapes follow CLUTCH's "WebSocket Events" (docs/PROTOCOL.md). `access_changed` is for the
realtime nodes and never reaches a client; `video_lists_changed` travels on the internal
channel `internal:video-lists` (channels/internal.py), never to a socket. Every publication
goes through `channels.publisher.Publisher`: after the commit, and a failure never fails the
request (see its failure policy).
"""

from __future__ import annotations

import uuid

from channels.authz import VideoAccess, access_event
from channels.internal import VIDEO_LISTS
from channels.publisher import Publisher
from storage.videos.videos import Counts, Video


def video_channel(video_id: uuid.UUID) -> str:
    return f"video:{video_id}"


def video_access(video: Video) -> VideoAccess:
    """Who may follow the video's channel: the rule of `Video.visible_to` for anyone else."""
    public = video.visible_to(None, None)
    return VideoAccess(author_id=str(video.author.id), visibility="public" if public else "private")


class VideoEvents:
    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher

    async def counts_changed(self, counts: Counts) -> None:
        """`video_update` with the four counters (view_count includes buffered views)."""
        await self.publisher.publish(
            video_channel(counts.video_id),
            {
                "type": "video_update",
                "video_id": str(counts.video_id),
                "data": {
                    "view_count": counts.view_count,
                    "like_count": counts.like_count,
                    "dislike_count": counts.dislike_count,
                    "comment_count": counts.comment_count,
                },
            },
        )

    async def access_changed(self, video_id: uuid.UUID, video: Video | None) -> None:
        """Tell every node to drop subscribers of `video:{id}` who may no longer read it.

        `video` is the video as committed, None once deleted. Publish it after the commit and
        before any later event of the video: subscribers are re-checked in channel order. If it
        cannot be published (logged), subscribers keep their subscription until they
        resubscribe or their node's broker connection restarts (see channels/node.py).
        """
        access = video_access(video) if video is not None else None
        await self.publisher.publish(video_channel(video_id), access_event(access))

    async def lists_changed(self) -> None:
        """Tell every node (this one too) to clear its list cache; after the video's commit.

        If it cannot be published (Redis down; logged), other nodes serve their cached lists
        until `LIST_CACHE_SECONDS` expires them.
        """
        await self.publisher.publish(VIDEO_LISTS, {"type": "video_lists_changed"})
