"""The /ws protocol: client messages as one discriminated union, error and close codes.

docs/PROTOCOL.md is the reference for every message; this module is its executable half.
Parsing never raises anything but `ProtocolError`, which the session turns into an `error`
message: an invalid frame is answered, never dropped or allowed to crash the connection.
"""

from __future__ import annotations

import enum
import re
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from core import validation
from core.validation import InvalidInput

# Fields a `subscribe` may select in `video_update.data` (CLUTCH's `events`).
VIDEO_COUNTERS = frozenset({"view_count", "like_count", "dislike_count", "comment_count"})
OFFSET_PATTERN = re.compile(r"^\d{1,20}-\d{1,20}$")
# Both parts of an offset are unsigned 64-bit integers in Redis: a larger `since` would make
# XRANGE fail, so it is refused here as the client's mistake.
OFFSET_PART_MAX = 2**64 - 1
# A control publication on `video:{id}` (channels/authz.py builds it): who may read the
# channel has changed. Hubs act on it and never send it to a client.
ACCESS_CHANGED = "_access_changed"


class CloseCode(enum.IntEnum):
    """WebSocket close codes the server uses (table in docs/PROTOCOL.md)."""

    normal = 1000
    going_away = 1001  # the node is shutting down: reconnect (to any node) and recover
    policy = 1008  # token expired and not renewed in time, or a rejected token
    too_big = 1009  # a frame over WS_MAX_MESSAGE_BYTES (sent by aiohttp)
    internal = 1011
    slow_consumer = 4008  # unsent bytes passed WS_MAX_PENDING_BYTES
    # The user already holds WS_MAX_CONNECTIONS_PER_USER sockets, or (anonymous) the client's
    # address holds WS_MAX_ANONYMOUS_CONNECTIONS_PER_IP.
    too_many_connections = 4029


class ErrorCode(enum.StrEnum):
    invalid_message = "invalid_message"
    unauthorized = "unauthorized"
    token_invalid = "token_invalid"
    token_expired = "token_expired"
    forbidden = "forbidden"
    not_found = "not_found"
    unknown_channel = "unknown_channel"
    not_subscribed = "not_subscribed"
    too_many_subscriptions = "too_many_subscriptions"
    user_mismatch = "user_mismatch"
    unavailable = "unavailable"
    rate_limited = "rate_limited"  # over WS_MAX_MESSAGES_PER_SECOND: the frame was dropped
    too_many_connections = "too_many_connections"


class ProtocolError(Exception):
    def __init__(self, code: ErrorCode, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    # Echoed in the reply so a client can match acks and errors to its requests.
    id: str | int | None = Field(default=None)


class Auth(_Message):
    type: Literal["auth"]
    token: str = Field(min_length=1, max_length=4096)


class Subscribe(_Message):
    type: Literal["subscribe"]
    channel: str = Field(min_length=1, max_length=128)
    events: list[str] | None = Field(default=None, max_length=len(VIDEO_COUNTERS))
    # The last offset the client saw on this channel: what it missed is replayed first.
    since: str | None = Field(default=None, pattern=OFFSET_PATTERN.pattern)

    @field_validator("since")
    @classmethod
    def _offset_in_range(cls, since: str | None) -> str | None:
        if since is not None and any(int(part) > OFFSET_PART_MAX for part in since.split("-")):
            raise ValueError(f"each part of an offset is at most {OFFSET_PART_MAX}")
        return since


class Unsubscribe(_Message):
    type: Literal["unsubscribe"]
    channel: str = Field(min_length=1, max_length=128)


class Ping(_Message):
    type: Literal["ping"]


ClientMessage = Annotated[Auth | Subscribe | Unsubscribe | Ping, Field(discriminator="type")]
_client_message: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)
_MODELS: dict[str, type[_Message]] = {
    "auth": Auth,
    "subscribe": Subscribe,
    "unsubscribe": Unsubscribe,
    "ping": Ping,
}


def parse_client_message(raw: str | bytes) -> Auth | Subscribe | Unsubscribe | Ping:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(ErrorCode.invalid_message, "Frame is not valid JSON") from exc
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.invalid_message, "A message is a JSON object")
    kind = data.get("type")
    model = _MODELS.get(kind) if isinstance(kind, str) else None
    try:
        # Unknown keys are counted, not each validated: see core/validation.py for the bounds.
        return validation.validate(
            _client_message.validate_python, model, data, prefix=(str(kind),) if model else ()
        )
    except InvalidInput as exc:
        problems = exc.problems
        errors = [{"field": name, "message": message} for name, message in problems.listed]
        count = {"error_count": problems.total} if problems.truncated else {}
        raise ProtocolError(
            ErrorCode.invalid_message,
            "Message failed validation",
            errors=errors,
            **count,
            **_echo_id(data),
        ) from exc


def _echo_id(data: dict[str, Any]) -> dict[str, Any]:
    msg_id = data.get("id")
    return {"id": msg_id} if isinstance(msg_id, str | int) and not isinstance(msg_id, bool) else {}


def counter_filter(events: list[str] | None) -> frozenset[str] | None:
    """The `video_update` fields a subscription wants; None means all of them."""
    if events is None:
        return None
    unknown = sorted(set(events) - VIDEO_COUNTERS)
    if unknown or not events:
        raise ProtocolError(
            ErrorCode.invalid_message,
            f"events must be a non-empty subset of {sorted(VIDEO_COUNTERS)}",
            unknown=unknown,
        )
    return frozenset(events)


def error(code: ErrorCode, message: str, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "code": code.value, "message": message, **extra}


def reply(kind: str, msg_id: str | int | None, **fields: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"type": kind, **fields}
    if msg_id is not None:
        message["id"] = msg_id
    return message


def resync(channel: str, offset: str | None, reason: str) -> dict[str, Any]:
    """Tell a subscriber its live stream of `channel` has a gap (reasons: docs/PROTOCOL.md)."""
    return {"type": "resync", "channel": channel, "offset": offset, "reason": reason}


def offset_key(offset: str) -> tuple[int, int]:
    """Offsets are `<ms>-<seq>` (Redis stream ids); this orders them numerically."""
    ms, _, seq = offset.partition("-")
    return int(ms), int(seq or 0)
