"""The /ws protocol: client and server messages as discriminated unions on `type`, error and
close codes.

docs/PROTOCOL.md is the reference for every message; this module is its executable half
(tests/unit/test_protocol_doc.py checks the two agree). Parsing never raises anything but
`ProtocolError`, which the session turns into an `error` message: an invalid frame is
answered, never dropped or allowed to crash the connection.

Server messages are the core's replies and notices, declared here, and the events domains
publish: each domain declares its events' models (subclasses of `Event`, in
handlers/<domain>/events.py) and the composition root joins them to the core's in one
`ServerMessages` union. Events travel as dicts from the broker and are framed once per
channel; their models are for publishers and for checking, not for the fan-out path.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, Union, get_args

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    field_serializer,
    field_validator,
)

from core import validation
from core.validation import InvalidInput

# An `events` filter names at most this many fields (each channel kind checks its own).
MAX_EVENT_FIELDS = 32
OFFSET_PATTERN = re.compile(r"^\d{1,20}-\d{1,20}$")
# Both parts of an offset are unsigned 64-bit integers in Redis: a larger `since` would make
# XRANGE fail, so it is refused here as the client's mistake.
OFFSET_PART_MAX = 2**64 - 1
# A control publication on a channel (channels/authz.py builds it): who may read the channel
# has changed. Hubs act on it and never send it to a client.
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
    # Which fields of the channel's filterable events to receive (the kind says which).
    events: list[str] | None = Field(default=None, max_length=MAX_EVENT_FIELDS)
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


CLIENT_MESSAGES = (Auth, Subscribe, Unsubscribe, Ping)
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


# --- server messages ---------------------------------------------------------------------


class ServerMessage(BaseModel):
    """A message the server sends; `wire()` is the JSON object that goes out."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    # Fields left out of the wire form when None (an absent `id`, an absent detail).
    omitted_when_none: ClassVar[frozenset[str]] = frozenset()

    def wire(self) -> dict[str, Any]:
        omitted = self.omitted_when_none
        return {
            k: v
            for k, v in self.model_dump(mode="json").items()
            if v is not None or k not in omitted
        }


MessageId = str | int | None  # echoed from the client message a reply answers


class Connected(ServerMessage):
    type: Literal["connected"] = "connected"
    user_id: str | None
    node: str
    heartbeat_seconds: float
    max_message_bytes: int
    max_subscriptions: int


class Subscribed(ServerMessage):
    omitted_when_none = frozenset({"id"})
    type: Literal["subscribed"] = "subscribed"
    channel: str
    offset: str | None  # where the client stands once it has read the replay that follows
    recovered: bool
    id: MessageId = None


class Unsubscribed(ServerMessage):
    omitted_when_none = frozenset({"reason", "id"})
    type: Literal["unsubscribed"] = "unsubscribed"
    channel: str
    reason: Literal["access_revoked"] | None = None  # the server ended the subscription
    id: MessageId = None


class Authenticated(ServerMessage):
    omitted_when_none = frozenset({"id"})
    type: Literal["authenticated"] = "authenticated"
    user_id: str
    expires_at: datetime
    id: MessageId = None

    @field_serializer("expires_at")
    def _iso(self, expires_at: datetime) -> str:
        return expires_at.isoformat()


class Pong(ServerMessage):
    omitted_when_none = frozenset({"id"})
    type: Literal["pong"] = "pong"
    id: MessageId = None


class Resync(ServerMessage):
    """The subscriber's live stream of `channel` has a gap (reasons: docs/PROTOCOL.md)."""

    type: Literal["resync"] = "resync"
    channel: str
    offset: str | None
    reason: Literal["history_trimmed", "broker_reconnect"]


class TokenExpired(ServerMessage):
    type: Literal["token_expired"] = "token_expired"
    grace_seconds: float


class FieldError(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    field: str
    message: str


class Error(ServerMessage):
    omitted_when_none = frozenset({"id", "errors", "error_count", "unknown", "channel"})
    type: Literal["error"] = "error"
    code: ErrorCode
    message: str
    id: MessageId = None
    errors: list[FieldError] | None = None  # invalid_message: what failed validation
    # invalid_message: how many problems there were, when `errors` lists only the first ones
    error_count: int | None = None
    unknown: list[str] | None = None  # invalid_message: `events` fields the channel lacks
    channel: str | None = None  # the channel a subscribe was refused (when not in the id)


CORE_MESSAGES: tuple[type[ServerMessage], ...] = (
    Connected,
    Subscribed,
    Unsubscribed,
    Authenticated,
    Pong,
    Resync,
    TokenExpired,
    Error,
)


class Event(ServerMessage):
    """An event a domain publishes on a channel: subclass it with a `type` Literal.

    Subscribers read it with two more fields the hub adds, `channel` and `offset`.
    """


def delivered(event: type[Event]) -> type[ServerMessage]:
    """The model of `event` as a subscriber reads it: its fields plus `channel` and `offset`."""
    namespace = {"__annotations__": {"channel": str, "offset": str}, "__module__": __name__}
    return type(event.__name__, (event,), namespace)


class ServerMessages:
    """Every message the server may send: the core's plus the events domains declare."""

    def __init__(self, events: Iterable[type[Event]]) -> None:
        self.members: tuple[type[ServerMessage], ...] = (
            *CORE_MESSAGES,
            *(delivered(event) for event in events),
        )
        types = [message_type(member) for member in self.members]
        duplicates = sorted({t for t in types if types.count(t) > 1})
        if duplicates:
            raise ValueError(f"server message types declared twice: {duplicates}")
        self.types = frozenset(types)
        union: Any = Union[self.members]  # noqa: UP007 (a union built at run time)
        self._adapter: TypeAdapter[ServerMessage] = TypeAdapter(
            Annotated[union, Field(discriminator="type")]
        )

    def validate(self, message: Mapping[str, Any]) -> ServerMessage:
        """The model `message` is an instance of; raises pydantic's ValidationError."""
        return self._adapter.validate_python(message)


def message_type(model: type[BaseModel]) -> str:
    """The `type` a message model declares (its Literal)."""
    (value,) = get_args(model.model_fields["type"].annotation)
    return str(value)


def error(code: ErrorCode, message: str, **extra: Any) -> Error:
    return Error(code=code, message=message, **extra)


def offset_key(offset: str) -> tuple[int, int]:
    """Offsets are `<ms>-<seq>` (Redis stream ids); this orders them numerically."""
    ms, _, seq = offset.partition("-")
    return int(ms), int(seq or 0)
