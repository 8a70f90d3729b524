"""Wires the realtime node (channels/) into the app: broker choice, settings, video lookup,
and the internal channel that clears every node's list cache (handlers/video_lists.py)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from channels import internal
from channels import node as realtime
from channels.authz import Principal, VideoAccess
from channels.broker import Broker, MemoryBroker
from channels.limits import ConnectionSlots
from channels.presence import MemoryPresence, Presence, RedisPresence
from channels.redis_broker import RedisBroker
from channels.session import SocketSlots
from core.errors import NotFound
from core.tokens import TokenService
from handlers import events, live
from server import keys, ratelimit
from server.config import Settings
from storage import videos


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


def _engines(settings: Settings, node_id: str) -> tuple[Broker, Presence]:
    if settings.broker == "memory":
        return MemoryBroker(history_size=settings.history_size), MemoryPresence()
    assert settings.redis_url, "REDIS_URL is resolved before the app is built"
    broker = RedisBroker(
        settings.redis_url,
        history_size=settings.history_size,
        history_ttl_s=settings.history_ttl_seconds,
    )
    presence = RedisPresence(
        settings.redis_url,
        node_id=node_id,
        heartbeat_s=settings.presence_heartbeat_seconds,
        ttl_s=settings.presence_ttl_seconds,
    )
    return broker, presence


def _socket_slots(settings: Settings) -> SocketSlots:
    """Sockets counted across nodes in Redis: per user, and per address while anonymous."""
    if not settings.redis_url:
        return SocketSlots()
    return SocketSlots(
        per_user=ConnectionSlots.from_url(
            settings.redis_url, limit=settings.ws_max_connections_per_user
        ),
        per_anonymous_ip=ConnectionSlots.from_url(
            settings.redis_url,
            limit=settings.ws_max_anonymous_connections_per_ip,
            prefix="streamhub:ws:anonymous",
        ),
    )


def _principal(tokens: TokenService):
    def decode(token: str) -> Principal:
        claims = tokens.decode_access(token)
        return Principal(user_id=claims.user_id, role=claims.role, expires_at=claims.expires_at)

    return decode


def setup(app: web.Application, settings: Settings) -> realtime.Node:
    """Build this node's hub and broker, register /ws; `app[keys.BROKER]` is the broker."""
    node_id = uuid.uuid4().hex[:12]  # names this process in presence and in `connected`
    broker, presence = _engines(settings, node_id)

    async def video_access(video_id: uuid.UUID) -> VideoAccess | None:
        try:
            video = await videos.get(app[keys.DB], video_id)
        except NotFound:
            return None
        return events.video_access(video)

    node = realtime.Node(
        broker=broker,
        presence=presence,
        video_access=video_access,
        decode_token=_principal(app[keys.TOKENS]),
        config=node_config(settings),
        node_id=node_id,
        slots=_socket_slots(settings),
        client_ip=lambda request: ratelimit.client_ip(request, request.app[keys.TRUSTED_PROXIES]),
    )
    # A video written on any node clears this node's lists (and so does a broker gap).
    node.on_internal(internal.VIDEO_LISTS, app[keys.VIDEO_LISTS].invalidate)
    app[keys.BROKER] = broker
    app[keys.REALTIME] = node
    realtime.setup(app, node)
    if settings.live_viewers_interval_seconds > 0:
        app.cleanup_ctx.append(_viewer_counts_ctx(settings.live_viewers_interval_seconds))
    return node


def _viewer_counts_ctx(
    interval_s: float,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """Push live viewer counts while the node runs (after the node starts, stopped first)."""

    async def viewer_counts(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(
            live.push_viewer_counts(app, interval_s=interval_s), name="live-viewer-counts"
        )
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return viewer_counts
