"""The realtime node: a broker, a hub and presence, and the `/ws` endpoint that uses them.

Built synchronously by the app factory (routes must exist before the app starts) and started
and stopped by a cleanup context; `setup` registers the endpoint and the lifecycle hooks.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiohttp import web

from channels.authz import ChannelAuthorizer, VideoLookup
from channels.broker import Broker
from channels.hub import Connection, Hub
from channels.limits import ConnectionSlots, MessageRate
from channels.presence import Presence
from channels.protocol import CloseCode
from channels.session import Session, SessionLimits, TokenDecoder, handshake_token

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
        video_access: VideoLookup,
        decode_token: TokenDecoder,
        config: NodeConfig,
        node_id: str,
        slots: ConnectionSlots | None = None,
    ) -> None:
        self.node_id = node_id
        self.slots = slots
        self.broker = broker
        self.presence = presence
        self.config = config
        self.hub = Hub(
            broker,
            max_pending_bytes=config.max_pending_bytes,
            coalesce_hz=config.coalesce_hz,
            on_count=presence.changed,
        )
        self._authorizer = ChannelAuthorizer(video_access)
        self._decode_token = decode_token
        self._limits = SessionLimits(config.max_subscriptions, config.token_grace_s)
        self._connections: set[Connection] = set()

    async def start(self) -> None:
        await self.broker.start()
        await self.presence.start()
        await self.hub.start()
        if self.slots is not None:
            await self.slots.start()

    async def shutdown(self) -> None:
        """Tell every client the node is going away (1001) so it reconnects elsewhere."""
        for conn in list(self._connections):
            self.hub.kick(conn, CloseCode.going_away, "node shutting down")
        await asyncio.sleep(0)

    async def stop(self) -> None:
        if self.slots is not None:
            await self.slots.stop()
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
            authorizer=self._authorizer,
            decode_token=self._decode_token,
            limits=self._limits,
            rate=MessageRate(self.config.max_messages_per_second),
            slots=self.slots,
        )
        self._connections.add(conn)
        self.hub.stats.connections += 1
        try:
            await session.run(token, self._hello())
        finally:
            session.close()
            await session.release_slot()
            self._connections.discard(conn)
            self.hub.stats.connections -= 1
        return ws

    def _hello(self) -> dict[str, object]:
        return {
            "node": self.node_id,
            "heartbeat_seconds": self.config.heartbeat_s,
            "max_message_bytes": self.config.max_message_bytes,
            "max_subscriptions": self.config.max_subscriptions,
        }


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
