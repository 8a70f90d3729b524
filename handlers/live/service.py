"""The rules of live streams: a video's author (or an admin) sets it live or offline; anyone
who may see the video reads its status and how many sockets watch it on every node.

A change is published on `video:{id}` as CLUTCH's `live_stream` message. `viewer_count` is
the number of sockets subscribed to the video's channel across nodes (presence, see
channels/presence.py). While a video is live, a change of its viewer count is pushed too
(`push_viewer_counts`, a periodic job: handlers/live/jobs.py), at most once per interval per
video across all nodes.
"""

from __future__ import annotations

import logging
import uuid

import asyncpg

from channels.presence import Presence
from channels.publisher import Publisher
from core.errors import Forbidden
from core.tokens import AccessClaims
from handlers.live.models import LiveState, LiveStream
from handlers.videos.service import VideoService, Viewer, video_channel
from storage.live import streams

log = logging.getLogger("streamhub.live")


class LiveService:
    def __init__(
        self,
        *,
        db: asyncpg.Pool,
        videos: VideoService,
        presence: Presence,
        publisher: Publisher,
    ) -> None:
        self.db = db
        self.videos = videos
        self.presence = presence
        self.publisher = publisher

    async def set_status(
        self, video_id: uuid.UUID, *, viewer: AccessClaims, status: LiveState
    ) -> LiveStream:
        """Go live or offline (the video's author or an admin); subscribers are told."""
        video = await self.videos.visible(video_id, viewer)
        if str(video.author.id) != viewer.user_id and viewer.role != "admin":
            raise Forbidden("Only the video's author can start or stop its live stream")
        state = await streams.set_status(self.db, video_id=video.id, status=status)
        message = await self._live_stream(video.id, state.status)
        await self.publisher.publish(video_channel(video.id), message)
        # Subscribers have this count now: the viewer-count push starts from it.
        await self.presence.claim_change(video_channel(video.id), message.viewer_count, 0)
        return message

    async def status(self, video_id: uuid.UUID, *, viewer: Viewer) -> LiveStream:
        video = await self.videos.visible(video_id, viewer)
        state = await streams.get_status(self.db, video.id)
        return await self._live_stream(video.id, state.status)

    async def push_viewer_counts(self, *, interval_s: float) -> int:
        """For each live video, publish `live_stream` if its viewer count (presence, all
        nodes) changed since the last push; at most once per `interval_s` per video.
        Returns how many were pushed."""
        pushed = 0
        for video_id in await streams.all_live(self.db):
            channel = video_channel(video_id)
            viewers = await self.presence.count(channel)
            if await self.presence.claim_change(channel, viewers, interval_s):
                message = LiveStream(video_id=video_id, status="live", viewer_count=viewers)
                pushed += await self.publisher.publish(channel, message)
        return pushed

    async def _live_stream(self, video_id: uuid.UUID, status: str) -> LiveStream:
        viewers = await self.presence.count(video_channel(video_id))
        return LiveStream(video_id=video_id, status=status, viewer_count=viewers)
