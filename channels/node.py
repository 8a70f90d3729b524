"""The realtime node: a broker, a hub and presence, and the `/ws` endpoint that uses them.

Built synchronously by the app factory (routes must exist before the app starts) and started
and stopped by a cleanup context; `setup` registers the endpoint and the lifecycle hooks.

Domains register their channel kinds (channels/kinds.py) with `register` before the node
starts; a channel of no registered kind answers `unknown_channel`.

The node also keeps subscriptions authorized after `subscribe`. An access-changed control
event is handled synchronously by the hub (see channels/hub.py): every local subscriber of the
channel is checked against the access the event carries (its kind's `AccessRule`), and the
ones no longer allowed are dropped before the channel's next event. After a broker gap the
control events may be lost, so every subscription whose kind has an access rule is checked
again against its lookup; until that finishes (one lookup per channel), a subscriber revoked
during the outage may still get events.

Internal channels (`internal:*`, channels/internal.py) carry notices between nodes: the server
registers a callback with `on_internal` before the node starts, and the node subscribes to them
at start and routes them to that callback, never to the hub or a socket.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from channels.broker import Broker
from channels.hub import Connection, Hub
from channels.internal import InternalChannels, Notice
from channels.kinds import ChannelKind, ChannelKinds
from channels.limits import MessageRate
from channels.presence import Presence
from channels.protocol import CloseCode
from channels.session import Session, SessionLimits, SocketSlots, TokenDecoder, handshake_token

# Given user ids, the ones that still have an account.
UsersCheck = Callable[[set[str]], Awaitable[set[str]]]

log = logging.getLogger("streamhub.channels.node")


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """Every limit of the realtime node; server/config.py documents each setting."""

    heartbeat_s: float = 25.0
    max_message_bytes: int = 64 * 1024
    max_pending_bytes: int = 1024 * 1024
    close_timeout_s: float = 5.0
    coalesce_hz: float = 10.0
    max_subscriptions: int = 64
    token_grace_s: float = 30.0
    max_messages_per_second: float = 20.0


class Node:
    def __init__(
        self,
        *,
        broker: Broker,
        presence: Presence,
        decode_token: TokenDecoder,
        config: NodeConfig,
        node_id: str,
        slots: SocketSlots | None = None,
        client_ip: Callable[[web.Request], str] | None = None,
    ) -> None:
        self.node_id = node_id
        self.slots = slots or SocketSlots()
        self._client_ip = client_ip
        self.broker = broker
        self.presence = presence
        self.config = config
        self.kinds = ChannelKinds()
        self.hub = Hub(
            broker,
            max_pending_bytes=config.max_pending_bytes,
            coalesce_hz=config.coalesce_hz,
            kinds=self.kinds,
            on_count=presence.changed,
            on_access=self._access_changed,
            on_gap=self._reauthorize_later,
        )
        # Replaces the listener the hub registered: internal channels are routed first.
        self._internal = InternalChannels(deliver=self.hub.deliver, on_gap=self.hub.missed)
        broker.set_listener(self._internal.deliver, on_gap=self._internal.missed)
        self._decode_token = decode_token
        self._limits = SessionLimits(config.max_subscriptions, config.token_grace_s)
        self._sessions: dict[Connection, Session] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def register(self, kind: ChannelKind[Any]) -> None:
        """Serve the channels of `kind` (a domain's, see channels/kinds.py); before `start`."""
        self.kinds.register(kind)

    def on_internal(self, channel: str, callback: Notice) -> None:
        """Run `callback` on every notice on `channel` and after broker gaps; before `start`."""
        self._internal.register(channel, callback)

    async def start(self) -> None:
        await self.broker.start()
        await self._internal.subscribe_all(self.broker)
        await self.presence.start()
        await self.hub.start()
        for slots in (self.slots.per_user, self.slots.per_anonymous_ip):
            if slots is not None:
                await slots.start()

    async def shutdown(self) -> None:
        """Tell every client the node is going away (1001) so it reconnects elsewhere."""
        for conn in list(self._sessions):
            self.hub.kick(conn, CloseCode.going_away, "node shutting down")
        await asyncio.sleep(0)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for slots in (self.slots.per_user, self.slots.per_anonymous_ip):
            if slots is not None:
                await slots.stop()
        await self.hub.stop()
        await self.presence.close()
        await self.broker.close()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """GET /ws: upgrade, then run one session until either side closes."""
        ws = web.WebSocketResponse(
            heartbeat=self.config.heartbeat_s,
            max_msg_size=self.config.max_message_bytes,
            compress=False,  # fan-out writes one prepared frame to every socket
            timeout=self.config.close_timeout_s,
        )
        token = handshake_token(request)
        await ws.prepare(request)
        # The 101's headers (security headers, request id) are on the wire now; kept, they
        # would cost ~1.8 KB for the socket's whole life (measured with tracemalloc).
        ws.headers.clear()
        assert request.transport is not None
        conn = Connection(ws, request.transport)
        session = Session(
            conn,
            hub=self.hub,
            kinds=self.kinds,
            decode_token=self._decode_token,
            limits=self._limits,
            rate=MessageRate(self.config.max_messages_per_second),
            slots=self.slots,
            client_ip=self._client_ip(request) if self._client_ip else request.remote,
        )
        self._sessions[conn] = session
        self.hub.stats.connections += 1
        try:
            await session.run(token, self._hello())
        finally:
            session.close()
            await session.release_slot()
            del self._sessions[conn]
            self.hub.stats.connections -= 1
        return ws

    def _access_changed(self, channel: str, event: dict[str, Any]) -> None:
        """The hub's access listener: runs before the channel's next event is delivered."""
        kind = self.kinds.of(channel)
        if kind is None or kind.access is None:
            log.warning("access change without an access rule", extra={"channel": channel})
            return
        self._revoke(channel, kind, kind.access.from_event(event))

    def _revoke(self, channel: str, kind: ChannelKind[Any], access: Any) -> None:
        assert kind.access is not None
        for conn in self.hub.subscribers(channel):
            session = self._sessions.get(conn)
            if not kind.access.allows(access, session.principal if session else None):
                self.hub.revoke(conn, channel)

    def _reauthorize_later(self) -> None:
        task = asyncio.create_task(self._reauthorize(), name="ws-reauthorize")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reauthorize(self) -> None:
        """After a broker gap: check every subscription with an access rule against its lookup."""
        for channel in list(self.hub.channel_counts()):
            kind = self.kinds.of(channel)
            if kind is None or kind.access is None:
                continue
            try:
                access = await kind.access.lookup(kind.names.parse(channel))
            except Exception as exc:  # keep going: other channels can still be checked
                log.warning(
                    "re-authorization failed", extra={"channel": channel, "error": repr(exc)}
                )
                continue
            self._revoke(channel, kind, access)

    def end_sessions_of_gone_users_later(self, still_there: UsersCheck) -> None:
        """Close (1008) this node's sessions whose user `still_there` no longer finds (an
        erased account): an internal notice's callback, safe to run spuriously."""
        task = asyncio.create_task(self._end_sessions_of_gone(still_there), name="ws-users")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _end_sessions_of_gone(self, still_there: UsersCheck) -> None:
        signed_in = {s.principal.user_id for s in self._sessions.values() if s.principal}
        if not signed_in:
            return
        try:
            present = await still_there(signed_in)
        except Exception as exc:  # the next notice or gap checks again
            log.warning("checking sessions' users failed", extra={"error": repr(exc)})
            return
        for conn, session in list(self._sessions.items()):
            if session.principal and session.principal.user_id not in present:
                self.hub.kick(conn, CloseCode.policy, "account deleted")

    def _hello(self) -> dict[str, object]:
        return {
            "node": self.node_id,
            "heartbeat_seconds": self.config.heartbeat_s,
            "max_message_bytes": self.config.max_message_bytes,
            "max_subscriptions": self.config.max_subscriptions,
        }


# The app's realtime node (its hub, broker and presence), set by the composition root.
REALTIME = web.AppKey("realtime", Node)


def setup(app: web.Application, node: Node) -> None:
    """Register `/ws` and tie the node's lifecycle to the app's."""

    async def lifecycle(_: web.Application):
        await node.start()
        yield
        await node.stop()

    async def on_shutdown(_: web.Application) -> None:
        await node.shutdown()

    app.router.add_get("/ws", node.handle)
    app.cleanup_ctx.append(lifecycle)
    app.on_shutdown.append(on_shutdown)
