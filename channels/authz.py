"""Who may subscribe to which channel.

`video:{id}` is open to everyone for public and unlisted ready videos, and to the author and
admins for the rest (private, or not processed yet); `user:{id}` only to that user. The video's
author and visibility come from a lookup the server wires in (channels/ does not import
storage/).

Access is checked at `subscribe`, and again whenever it may have shrunk: the server publishes
an access-changed control event (`access_event`) on `video:{id}` after a video turns hidden
or is deleted, and every node re-checks its local subscribers against the access the event
carries, synchronously (`allows`), before it delivers the channel's next event.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from channels.protocol import ACCESS_CHANGED, ErrorCode, ProtocolError


@dataclass(frozen=True, slots=True)
class VideoAccess:
    author_id: str
    visibility: str  # "public" | "unlisted" | "private"


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: str
    role: str
    expires_at: datetime


VideoLookup = Callable[[uuid.UUID], Awaitable[VideoAccess | None]]


def access_event(access: VideoAccess | None) -> dict[str, Any]:
    """The control publication telling every node who may now read `video:{id}` (None: deleted)."""
    if access is None:
        return {"type": ACCESS_CHANGED, "deleted": True}
    return {"type": ACCESS_CHANGED, "author_id": access.author_id, "visibility": access.visibility}


def access_from_event(event: dict[str, Any]) -> VideoAccess | None:
    """The access an `access_event` carries; anything malformed reads as "deleted" (fail closed)."""
    author_id, visibility = event.get("author_id"), event.get("visibility")
    if event.get("deleted") or not isinstance(author_id, str) or not isinstance(visibility, str):
        return None
    return VideoAccess(author_id=author_id, visibility=visibility)


def parse_channel(channel: str) -> tuple[str, uuid.UUID]:
    kind, sep, raw_id = channel.partition(":")
    if not sep or kind not in ("video", "user"):
        raise ProtocolError(ErrorCode.unknown_channel, "Channels are video:{id} or user:{id}")
    try:
        ident = uuid.UUID(raw_id)
    except ValueError as exc:
        raise ProtocolError(ErrorCode.unknown_channel, f"{kind} id is not a valid UUID") from exc
    if str(ident) != raw_id:
        raise ProtocolError(ErrorCode.unknown_channel, "Use the canonical lowercase UUID form")
    return kind, ident


class ChannelAuthorizer:
    def __init__(self, video_access: VideoLookup) -> None:
        self._video_access = video_access

    async def check(self, channel: str, principal: Principal | None) -> None:
        """Return if `principal` may subscribe to `channel`; raise `ProtocolError` otherwise."""
        kind, ident = parse_channel(channel)
        if kind == "user":
            if principal is None:
                raise ProtocolError(
                    ErrorCode.unauthorized, "Authenticate to subscribe to user:{id}"
                )
            if principal.user_id != str(ident):
                raise ProtocolError(ErrorCode.forbidden, "user:{id} is private to that user")
            return
        # As over REST, a private video is "not found" for others, so its id does not leak.
        if not self.allows(await self._video_access(ident), principal):
            raise ProtocolError(ErrorCode.not_found, "No such video")

    async def video_access(self, channel: str) -> VideoAccess | None:
        """Who may read the `video:{id}` channel now (None: no such video)."""
        return await self._video_access(parse_channel(channel)[1])

    @staticmethod
    def allows(video: VideoAccess | None, principal: Principal | None) -> bool:
        """Whether `principal` may read a video channel with this access; no I/O."""
        if video is None:
            return False
        if video.visibility != "private":
            return True
        return principal is not None and (
            principal.role == "admin" or principal.user_id == video.author_id
        )
