"""The rules of videos: who may see or change one, what counts as a view, and what every
change publishes once it is committed.

Every other domain that needs a video (comments, follows' feed, live) asks this service, so
"who may see this video" and "assemble a `video_update`" are written once, here.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from typing import Any

import asyncpg

from core.aio import both
from core.errors import Forbidden, NotFound
from core.paging import Slice, Window
from core.tokens import AccessClaims
from handlers.videos.events import VideoAccess, VideoEvents, video_access, video_channel
from handlers.videos.lists import VideoLists
from handlers.videos.models import VideoListQuery
from handlers.videos.view_buffer import ViewBuffer, viewer_identity
from storage.videos import likes, videos
from storage.videos.likes import Action, VideoReaction
from storage.videos.videos import Counts, Video

PUBLISHER_ROLES = frozenset({"creator", "admin"})

log = logging.getLogger("streamhub.videos")

__all__ = ["PUBLISHER_ROLES", "VideoService", "Viewer", "caller_id", "video_channel"]

Viewer = AccessClaims | None


def caller_id(viewer: Viewer) -> uuid.UUID | None:
    return uuid.UUID(viewer.user_id) if viewer else None


class VideoService:
    def __init__(
        self, *, db: asyncpg.Pool, views: ViewBuffer, lists: VideoLists, events: VideoEvents
    ) -> None:
        self.db = db
        self.views = views
        self.lists = lists
        self.events = events

    # --- who may see or change a video ------------------------------------------------

    async def visible(self, video_id: uuid.UUID, viewer: Viewer) -> Video:
        """The video if `viewer` may see it; NOT_FOUND otherwise, so private ids do not leak."""
        video = await videos.get(self.db, video_id)
        if not video.visible_to(caller_id(viewer), viewer.role if viewer else None):
            raise NotFound("Video not found")
        return video

    async def managed(self, video_id: uuid.UUID, viewer: AccessClaims) -> Video:
        """The video if `viewer` is its author or an admin (FORBIDDEN for other viewers)."""
        video = await self.visible(video_id, viewer)
        if video.author.id != caller_id(viewer) and viewer.role != "admin":
            raise Forbidden("Only the video's author or an admin can change it")
        return video

    async def channel_access(self, video_id: uuid.UUID) -> VideoAccess | None:
        """Who may follow `video:{id}` now (None: no such video); the realtime node asks."""
        try:
            return video_access(await videos.get(self.db, video_id))
        except NotFound:
            return None

    # --- reads ------------------------------------------------------------------------

    async def list_page(self, query: VideoListQuery) -> bytes:
        """The encoded `VideoList` page for `query`, from this node's short list cache."""
        return await self.lists.page(self.db, query)

    async def read(self, video_id: uuid.UUID, *, viewer: Viewer) -> Video:
        """The video as `viewer` sees it, its view count including views not yet flushed."""
        video = await self.visible(video_id, viewer)
        return await self._with_buffered_views(video)

    async def following_feed(
        self, *, follower: AccessClaims, window: Window
    ) -> tuple[Slice[Video], int]:
        """Listed videos of the users `follower` follows, newest first, and their total."""
        where = videos.ListFilter(followed_by=uuid.UUID(follower.user_id))
        return await videos.list_page(self.db, where, sort="latest", window=window)

    # --- writes -----------------------------------------------------------------------

    async def create(self, *, author: AccessClaims, fields: dict[str, Any]) -> Video:
        if author.role not in PUBLISHER_ROLES:
            raise Forbidden("Only creators and admins can publish videos")
        video = await videos.create(self.db, author_id=uuid.UUID(author.user_id), fields=fields)
        await self._lists_changed()
        return video

    async def update(
        self, video_id: uuid.UUID, *, editor: AccessClaims, changes: dict[str, Any]
    ) -> Video:
        """Change author-set fields; a video left hidden re-checks its channel's subscribers."""
        video = await self.managed(video_id, editor)
        updated = await videos.update(self.db, video.id, changes)
        if not updated.visible_to(None, None):
            # Sent on every edit that leaves it hidden, so a retried edit re-sends a lost one.
            await self.events.access_changed(video.id, updated)
        await self._lists_changed()
        return await self._with_buffered_views(updated)

    async def delete(self, video_id: uuid.UUID, *, editor: AccessClaims) -> None:
        video = await self.managed(video_id, editor)
        await videos.delete(self.db, video.id)
        await self.events.access_changed(video.id, None)
        await self._lists_changed()

    async def record_view(
        self,
        video_id: uuid.UUID,
        *,
        viewer: Viewer,
        client_ip: str,
        watch_seconds: float,
    ) -> int:
        """Count a view once per viewer per window (an account, or an anonymous client's
        network, whose views per window are also capped; handlers/videos/view_buffer.py);
        answer the count the viewer should see."""
        video = await self.visible(video_id, viewer)
        if video.duration > 0:
            # One report cannot claim more watching than the video holds (inflated metrics).
            watch_seconds = min(watch_seconds, float(video.duration))
        who = viewer_identity(user_id=viewer.user_id if viewer else None, ip=client_ip)
        recorded = await self.views.record(
            video.id, who.key, watch_seconds=watch_seconds, network=who.network
        )
        count = video.view_count + recorded.buffered
        if recorded.counted:
            await self.events.counts_changed(
                Counts(
                    video_id=video.id,
                    view_count=count,
                    like_count=video.like_count,
                    dislike_count=video.dislike_count,
                    comment_count=video.comment_count,
                )
            )
        return count

    async def react(
        self, video_id: uuid.UUID, *, viewer: AccessClaims, action: Action
    ) -> VideoReaction:
        """Like, dislike or remove `viewer`'s reaction (idempotent), then publish the counts.

        One Postgres round trip checks visibility, locks and writes (storage.videos.likes);
        the buffered views are read from Redis at the same time.
        """
        reaction, buffered = await both(
            likes.react_to_video(
                self.db,
                user_id=uuid.UUID(viewer.user_id),
                video_id=video_id,
                action=action,
                is_admin=viewer.role == "admin",
            ),
            self.views.buffered(video_id),
        )
        await self.events.counts_changed(
            Counts(
                video_id=reaction.video_id,
                view_count=reaction.view_count + buffered,
                like_count=reaction.like_count,
                dislike_count=reaction.dislike_count,
                comment_count=reaction.comment_count,
            )
        )
        return reaction

    async def publish_counts(self, video_id: uuid.UUID) -> None:
        """Publish the video's current counters (after a change made elsewhere, e.g. a comment).

        Called after a commit, so it never fails the request: if the counters cannot be read
        (an engine down or slow), the event is dropped and logged, and subscribers catch up
        with the next one or through `resync` (see channels/publisher.py).
        """
        try:
            counts, buffered = await both(
                videos.counts(self.db, video_id), self.views.buffered(video_id)
            )
        except NotFound:
            return  # deleted meanwhile: its subscribers were told so
        except Exception:
            log.exception("video_update not published", extra={"video_id": str(video_id)})
            return
        await self.events.counts_changed(
            dataclasses.replace(counts, view_count=counts.view_count + buffered)
        )

    async def processing_changed(self, video_id: uuid.UUID) -> None:
        """After the media pipeline committed a video's new processing state: lists may gain
        or lose it, and who may follow its channel may change (ready and public: anyone)."""
        try:
            video = await videos.get(self.db, video_id)
        except NotFound:
            video = None
        await self.events.access_changed(video_id, video)
        await self._lists_changed()

    # --- helpers ----------------------------------------------------------------------

    async def _with_buffered_views(self, video: Video) -> Video:
        buffered = await self.views.buffered(video.id)
        return dataclasses.replace(video, view_count=video.view_count + buffered)

    async def _lists_changed(self) -> None:
        """After a video's commit: clear this node's lists now, then every node's.

        The local clear does not wait for Redis, so the author sees the change on this node
        even when the notice cannot be published (see handlers/videos/lists.py).
        """
        self.lists.invalidate()
        await self.events.lists_changed()
