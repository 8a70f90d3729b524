"""Composition root, realtime part: builds this node's broker, presence and hub from settings
and wires in what only the domains know: their channel kinds (who may subscribe, what
coalesces, what an `events` filter selects), the events they publish (`MESSAGES`, the server
side of docs/PROTOCOL.md), which internal notices clear which caches. Imported by
server/app.py only (and by tests that check the protocol document)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from aiohttp import web

from channels import node as realtime
from channels.authz import Principal
from channels.broker import Broker, MemoryBroker
from channels.limits import ConnectionSlots
from channels.presence import MemoryPresence, Presence, RedisPresence
from channels.protocol import ServerMessages
from channels.redis_broker import RedisBroker
from channels.session import SocketSlots
from core.tokens import TokenService
from handlers.accounts import events as account_events
from handlers.catalogue import events as catalogue_events
from handlers.live import events as live_events
from handlers.media import events as media_events
from handlers.social import events as social_events
from handlers.videos import events as video_events
from server.config import Settings
from server.http.addresses import caller_ip
from server.services import Services

log = logging.getLogger("streamhub.realtime")

# Every message a client may receive: the core's and each domain's events.
MESSAGES = ServerMessages(
    (
        *video_events.EVENTS,
        *social_events.EVENTS,
        *live_events.EVENTS,
        *catalogue_events.EVENTS,
        *media_events.EVENTS,
    )
)


def node_config(settings: Settings) -> realtime.NodeConfig:
    return realtime.NodeConfig(
        heartbeat_s=settings.ws_heartbeat_seconds,
        max_message_bytes=settings.ws_max_message_bytes,
        max_pending_bytes=settings.ws_max_pending_bytes,
        close_timeout_s=settings.ws_close_timeout_seconds,
        coalesce_hz=settings.coalesce_hz,
        max_subscriptions=settings.ws_max_subscriptions,
        token_grace_s=settings.ws_token_grace_seconds,
        max_messages_per_second=settings.ws_max_messages_per_second,
    )


def engines(settings: Settings, node_id: str) -> tuple[Broker, Presence]:
    if settings.broker == "memory":
        return MemoryBroker(history_size=settings.history_size), MemoryPresence()
    assert settings.redis_url, "REDIS_URL is resolved before the app is built"
    broker = RedisBroker(
        settings.redis_url,
        history_size=settings.history_size,
        history_ttl_s=settings.history_ttl_seconds,
        timeout_s=settings.redis_timeout_seconds,
    )
    presence = RedisPresence(
        settings.redis_url,
        node_id=node_id,
        heartbeat_s=settings.presence_heartbeat_seconds,
        ttl_s=settings.presence_ttl_seconds,
        timeout_s=settings.redis_timeout_seconds,
    )
    return broker, presence


def _socket_slots(settings: Settings) -> SocketSlots:
    """Sockets counted across nodes in Redis: per user, and per address while anonymous."""
    if not settings.redis_url:
        return SocketSlots()
    return SocketSlots(
        per_user=ConnectionSlots.from_url(
            settings.redis_url,
            limit=settings.ws_max_connections_per_user,
            timeout_s=settings.redis_timeout_seconds,
        ),
        per_anonymous_ip=ConnectionSlots.from_url(
            settings.redis_url,
            limit=settings.ws_max_anonymous_connections_per_ip,
            prefix="streamhub:ws:anonymous",
            timeout_s=settings.redis_timeout_seconds,
        ),
    )


def _principal(tokens: TokenService) -> Callable[[str], Principal]:
    def decode(token: str) -> Principal:
        claims = tokens.decode_access(token)
        return Principal(user_id=claims.user_id, role=claims.role, expires_at=claims.expires_at)

    return decode


def build_node(settings: Settings, *, tokens: TokenService) -> realtime.Node:
    """This node's hub, broker and presence (not started: `serve` ties them to the app)."""
    node_id = uuid.uuid4().hex[:12]  # names this process in presence and in `connected`
    broker, presence = engines(settings, node_id)
    return realtime.Node(
        broker=broker,
        presence=presence,
        decode_token=_principal(tokens),
        config=node_config(settings),
        node_id=node_id,
        slots=_socket_slots(settings),
        client_ip=caller_ip,
    )


def serve(app: web.Application, node: realtime.Node, services: Services) -> None:
    """Serve /ws with `node` and the domains' channel kinds; a video written on any node (or
    a broker gap) clears this node's list cache; an erased account's sockets close."""
    node.register(video_events.channel_kind(services.videos.channel_access))
    node.register(account_events.channel_kind())
    node.on_internal(video_events.LISTS_CHANNEL, services.videos.lists.invalidate)
    # An account erased on any node: every node closes that account's sockets.
    node.on_internal(
        account_events.ERASED_CHANNEL,
        lambda: node.end_sessions_of_gone_users_later(services.privacy.still_there),
    )
    app[realtime.REALTIME] = node
    realtime.setup(app, node)
