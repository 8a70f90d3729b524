"""What the videos domain publishes, and its channel kind: `video:{id}`.

- `video_update` (CLUTCH's "WebSocket Events", docs/PROTOCOL.md) on `video:{id}`: coalesced
  (a burst merges, the latest value of each counter wins) and filterable by counter (a
  subscribe's `events`);
- the control event that re-checks who may read `video:{id}`, for the realtime nodes only
  (never sent to a client);
- `video_lists_changed` on the internal channel `internal:video-lists` (channels/internal.py),
  the notice that clears every node's list cache; never sent to a socket.

`channel_kind` is what the composition root registers with the realtime node: who may
subscribe (anyone for public and unlisted ready videos, the author and admins otherwise,
re-checked when the video turns hidden or is deleted). Every publication goes through
`channels.publisher.Publisher`: after the commit, and a failure never fails the request (see
its failure policy).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer

from channels.authz import AccessRule, Principal, access_event
from channels.kinds import ChannelKind, FieldFilter, merge_latest, uuid_names
from channels.protocol import ErrorCode, Event
from channels.publisher import Publisher
from storage.videos.videos import Counts, Video

# `video:{id}`: the one place the names of video channels are built and parsed.
CHANNELS = uuid_names("video")
# The internal channel whose notice clears every node's list cache (never a client's).
LISTS_CHANNEL = "internal:video-lists"


def video_channel(video_id: uuid.UUID) -> str:
    return CHANNELS.name(video_id)


class VideoCounters(BaseModel):
    """`video_update.data`: absolute counts, never deltas. A filtered subscriber gets a subset."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    view_count: int | None = None
    like_count: int | None = None
    dislike_count: int | None = None
    comment_count: int | None = None

    @model_serializer(mode="wrap")
    def _present_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A counter a filter left out is absent, not null.
        return {k: v for k, v in handler(self).items() if v is not None}


class VideoUpdate(Event):
    type: Literal["video_update"] = "video_update"
    video_id: uuid.UUID
    data: VideoCounters


EVENTS: tuple[type[Event], ...] = (VideoUpdate,)

# The fields a subscribe's `events` may select in `video_update.data` (CLUTCH's `events`).
COUNTERS = frozenset(VideoCounters.model_fields)


@dataclass(frozen=True, slots=True)
class VideoAccess:
    """Who may follow a video's channel: its author, and whether anyone else may."""

    author_id: str
    visibility: Literal["public", "private"]


def video_access(video: Video) -> VideoAccess:
    """Who may follow the video's channel: the rule of `Video.visible_to` for anyone else."""
    public = video.visible_to(None, None)
    return VideoAccess(author_id=str(video.author.id), visibility="public" if public else "private")


def may_follow(access: VideoAccess | None, principal: Principal | None) -> bool:
    """Whether `principal` may read a video channel with this access; no I/O."""
    if access is None:
        return False
    if access.visibility != "private":
        return True
    return principal is not None and (
        principal.role == "admin" or principal.user_id == access.author_id
    )


def _access_fields(access: VideoAccess) -> dict[str, Any]:
    return {"author_id": access.author_id, "visibility": access.visibility}


def _read_access(fields: Mapping[str, Any]) -> VideoAccess | None:
    """The access a control event carries; anything malformed reads as "deleted" (fail closed)."""
    author_id, visibility = fields.get("author_id"), fields.get("visibility")
    if not isinstance(author_id, str) or visibility not in ("public", "private"):
        return None
    return VideoAccess(author_id=author_id, visibility=visibility)


AccessLookup = Callable[[uuid.UUID], Awaitable[VideoAccess | None]]


def channel_kind(lookup: AccessLookup) -> ChannelKind[uuid.UUID]:
    """`video:{id}` for the realtime node; `lookup` reads a video's access now (None: gone)."""
    return ChannelKind(
        CHANNELS,
        # As over REST, a private video is "not found" for others, so its id does not leak.
        access=AccessRule(
            lookup=lookup,
            allows=may_follow,
            read=_read_access,
            denied=ErrorCode.not_found,
            denied_message="No such video",
        ),
        coalesce={"video_update": merge_latest("data")},
        filters={"video_update": FieldFilter("data", COUNTERS)},
    )


class VideoEvents:
    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher

    async def counts_changed(self, counts: Counts) -> None:
        """`video_update` with the four counters (view_count includes buffered views)."""
        update = VideoUpdate(
            video_id=counts.video_id,
            data=VideoCounters(
                view_count=counts.view_count,
                like_count=counts.like_count,
                dislike_count=counts.dislike_count,
                comment_count=counts.comment_count,
            ),
        )
        await self.publisher.publish(video_channel(counts.video_id), update)

    async def access_changed(self, video_id: uuid.UUID, video: Video | None) -> None:
        """Tell every node to drop subscribers of `video:{id}` who may no longer read it.

        `video` is the video as committed, None once deleted. Publish it after the commit and
        before any later event of the video: subscribers are re-checked in channel order. If it
        cannot be published (logged), subscribers keep their subscription until they
        resubscribe or their node's broker connection restarts (see channels/node.py).
        """
        fields = _access_fields(video_access(video)) if video is not None else None
        await self.publisher.publish(video_channel(video_id), access_event(fields))

    async def lists_changed(self) -> None:
        """Tell every node (this one too) to clear its list cache; after the video's commit.

        If it cannot be published (Redis down; logged), other nodes serve their cached lists
        until `LIST_CACHE_SECONDS` expires them.
        """
        await self.publisher.publish(LISTS_CHANNEL, {"type": "video_lists_changed"})
