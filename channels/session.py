"""One client's WebSocket session: authentication, the message loop, token expiry.

Messages are handled one at a time in arrival order; every client message gets exactly one
reply (an ack or an `error`), and events are interleaved by the hub. Outgoing bytes all go
through the hub, so the per-socket unsent-bytes bound covers replies too.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

from channels.authz import Principal
from channels.hub import Connection, Hub
from channels.kinds import ChannelKinds
from channels.limits import ConnectionSlots, MessageRate
from channels.protocol import (
    Auth,
    Authenticated,
    CloseCode,
    Connected,
    ErrorCode,
    Ping,
    Pong,
    ProtocolError,
    ServerMessage,
    Subscribe,
    TokenExpired,
    Unsubscribe,
    Unsubscribed,
    error,
    parse_client_message,
)
from core.errors import Unauthorized

log = logging.getLogger("streamhub.channels.session")

TokenDecoder = Callable[[str], Principal]  # raises core.errors.Unauthorized


@dataclass(frozen=True, slots=True)
class SessionLimits:
    max_subscriptions: int
    token_grace_s: float


@dataclass(frozen=True, slots=True)
class SocketSlots:
    """Where a socket is counted: per user once signed in, per client address until then."""

    per_user: ConnectionSlots | None = None
    per_anonymous_ip: ConnectionSlots | None = None


class Session:
    __slots__ = (
        "_decode", "_expiry", "_hub", "_ip", "_kinds", "_limits", "_rate", "_slot", "_slots",
        "_throttled", "conn", "principal",
    )  # fmt: skip

    def __init__(
        self,
        conn: Connection,
        *,
        hub: Hub,
        kinds: ChannelKinds,
        decode_token: TokenDecoder,
        limits: SessionLimits,
        rate: MessageRate | None = None,
        slots: SocketSlots | None = None,
        client_ip: str | None = None,
    ) -> None:
        self.conn = conn
        self.principal: Principal | None = None
        self._hub = hub
        self._kinds = kinds
        self._decode = decode_token
        self._limits = limits
        self._expiry: asyncio.TimerHandle | None = None
        self._rate = rate
        self._throttled = False
        self._slots = slots or SocketSlots()
        self._ip = client_ip
        # (the slots, user id or address, connection id) while this socket is counted.
        self._slot: tuple[ConnectionSlots, str, str] | None = None

    async def run(self, handshake_token: str | None, hello: dict[str, Any]) -> None:
        if handshake_token is not None:
            try:
                self._authenticate(handshake_token)
            except ProtocolError as exc:
                self._send(error(exc.code, exc.message))
                self.conn.closing = True
                await self.conn.ws.close(code=CloseCode.policy, message=exc.code.value.encode())
                return
        if not await self._claim_slot():
            return
        user_id = self.principal.user_id if self.principal else None
        self._send(Connected(user_id=user_id, **hello))
        async for msg in self.conn.ws:
            if self.conn.closing:
                break
            if msg.type is WSMsgType.TEXT:
                await self.handle(msg.data)
            elif msg.type is WSMsgType.BINARY and not self._over_rate():
                # Every frame counts against the rate: a refusal costs as much as an answer.
                self._send(error(ErrorCode.invalid_message, "Send JSON text frames, not binary"))

    def close(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        self._hub.remove(self.conn)

    async def release_slot(self) -> None:
        if self._slot is not None:
            slots, key, conn_id = self._slot
            self._slot = None
            await slots.release(key, conn_id)

    async def _claim_slot(self) -> bool:
        """Count this socket against its user's limit, or its address's while anonymous.

        False (and closing) when that limit is full. A socket that signs in moves from its
        address's count to its user's.
        """
        key: str | None
        if self.principal is not None:
            slots, key, whose = self._slots.per_user, self.principal.user_id, "per user"
        else:
            slots, key = self._slots.per_anonymous_ip, self._ip
            whose = "per address for anonymous sockets"
        if slots is None or key is None or (self._slot is not None and self._slot[0] is slots):
            return True
        conn_id = uuid.uuid4().hex
        if await slots.acquire(key, conn_id):
            await self.release_slot()
            self._slot = (slots, key, conn_id)
            return True
        self._hub.stats.rejected_connections += 1
        limit = slots.limit
        self._send(error(ErrorCode.too_many_connections, f"At most {limit} connections {whose}"))
        self.conn.closing = True
        await self.conn.ws.close(code=CloseCode.too_many_connections, message=b"too many")
        return False

    def _over_rate(self) -> bool:
        """Frames past WS_MAX_MESSAGES_PER_SECOND are dropped; the first of a run is told."""
        if self._rate is None or self._rate.allow():
            self._throttled = False
            return False
        self._hub.stats.rejected_messages += 1
        if not self._throttled:
            self._throttled = True
            self._send(error(ErrorCode.rate_limited, "Too many messages: slow down"))
        return True

    async def handle(self, raw: str) -> None:
        if self._over_rate():
            return
        msg_id = None
        message: Auth | Subscribe | Unsubscribe | Ping | None = None
        try:
            message = parse_client_message(raw)
            msg_id = message.id
            self._hub.stats.message_in(message.type)
            if isinstance(message, Subscribe):
                await self._subscribe(message)
            elif isinstance(message, Unsubscribe):
                self._unsubscribe(message)
            elif isinstance(message, Auth):
                self._reauthenticate(message)
                await self._claim_slot()  # a socket that signs in late counts from now
            elif isinstance(message, Ping):
                self._send(Pong(id=msg_id))
        except ProtocolError as exc:
            if message is None:
                self._hub.stats.message_in("invalid")
            extra = {"id": msg_id} if msg_id is not None else {}
            self._send(error(exc.code, exc.message, **{**extra, **exc.extra}))
        except Exception:
            log.exception("handling a client message failed")
            self._send(
                error(
                    ErrorCode.unavailable,
                    "Temporarily unable to handle this message",
                    **({"id": msg_id} if msg_id is not None else {}),
                )
            )

    async def _subscribe(self, message: Subscribe) -> None:
        channel, principal = message.channel, self.principal
        kind, ident = self._kinds.resolve(channel)
        selection = kind.selection(message.events)
        subscriptions = self.conn.subscriptions
        if (
            message.channel not in subscriptions
            and len(subscriptions) >= self._limits.max_subscriptions
        ):
            raise ProtocolError(
                ErrorCode.too_many_subscriptions,
                f"At most {self._limits.max_subscriptions} channels per connection",
            )
        mark = self._hub.access_mark(channel)  # before the check: see Hub.subscribe
        await kind.check(ident, principal)
        # Subscribing again replaces the old subscription (new filter, new recovery point).
        self._hub.unsubscribe(self.conn, channel)
        active = await self._hub.subscribe(
            self.conn,
            channel,
            selection,
            message.since,
            message.id,
            checked=mark,
            recheck=lambda: kind.check(ident, principal),
        )
        if not active and not self.conn.closing:  # access revoked while it caught up
            raise kind.refusal(channel=channel)

    def _unsubscribe(self, message: Unsubscribe) -> None:
        if not self._hub.unsubscribe(self.conn, message.channel):
            raise ProtocolError(
                ErrorCode.not_subscribed, "Not subscribed to this channel", channel=message.channel
            )
        self._send(Unsubscribed(channel=message.channel, id=message.id))

    def _reauthenticate(self, message: Auth) -> None:
        previous = self.principal
        principal = self._authenticate(message.token, keep=previous)
        self._send(
            Authenticated(user_id=principal.user_id, expires_at=principal.expires_at, id=message.id)
        )

    def _authenticate(self, token: str, *, keep: Principal | None = None) -> Principal:
        try:
            principal = self._decode(token)
        except Unauthorized as exc:
            reason = str(exc.details.get("reason", ""))
            code = ErrorCode.token_expired if reason == "token_expired" else ErrorCode.token_invalid
            raise ProtocolError(code, exc.message) from exc
        if keep is not None and keep.user_id != principal.user_id:
            raise ProtocolError(ErrorCode.user_mismatch, "A connection stays with one user")
        self.principal = principal
        self._schedule_expiry(principal.expires_at)
        return principal

    def _schedule_expiry(self, expires_at: datetime) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        loop = asyncio.get_running_loop()
        delay = max(0.0, (expires_at - datetime.now(UTC)).total_seconds())
        self._expiry = loop.call_later(delay, self._token_expired)

    def _token_expired(self) -> None:
        grace = self._limits.token_grace_s
        self._send(TokenExpired(grace_seconds=grace))
        self._expiry = asyncio.get_running_loop().call_later(grace, self._grace_over)

    def _grace_over(self) -> None:
        self._expiry = None
        self._hub.kick(self.conn, CloseCode.policy, "token expired")

    def _send(self, message: ServerMessage) -> None:
        self._hub.send(self.conn, message)


def handshake_token(request: web.Request) -> str | None:
    """`Authorization: Bearer <token>`, else `?token=` (browsers cannot set headers)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.query.get("token") or None
