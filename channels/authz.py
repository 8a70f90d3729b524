"""Who may subscribe to which channel.

`video:{id}` is open to everyone for public and unlisted ready videos, and to the author and
admins for the rest (private, or not processed yet); `user:{id}` only to that user. The video's
author and visibility come from a lookup the server wires in (channels/ does not import
storage/).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from channels.protocol import ErrorCode, ProtocolError


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
        video = await self._video_access(ident)
        if video is None:
            raise ProtocolError(ErrorCode.not_found, "No such video")
        if video.visibility != "private":
            return
        # As over REST, a private video is "not found" for others, so its id does not leak.
        if principal is None or (
            principal.role != "admin" and principal.user_id != video.author_id
        ):
            raise ProtocolError(ErrorCode.not_found, "No such video")
