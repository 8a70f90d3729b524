"""Typed keys for everything a node keeps in its application and requests."""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg
from aiohttp import web
from redis.asyncio import Redis

from channels.broker import Broker
from channels.node import Node
from core.tokens import TokenService
from server.config import Settings

if TYPE_CHECKING:
    from counters.views import ViewCounter
    from handlers.video_lists import VideoLists
    from server.metrics import Metrics
    from server.ratelimit import Network, RateLimiter
    from server.routing import Endpoint

SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", asyncpg.Pool)
REDIS = web.AppKey("redis", Redis)
TOKENS = web.AppKey("tokens", TokenService)
BROKER = web.AppKey("broker", Broker)
# Realtime (issue 4): the hub, broker and presence of this node.
REALTIME = web.AppKey("realtime", Node)
ENDPOINTS = web.AppKey("endpoints", list["Endpoint"])
# Operations (issue 5). Annotated rather than typed by value: those modules import this one.
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
RATE_LIMITER: web.AppKey[RateLimiter] = web.AppKey("rate_limiter")  # absent when disabled
TRUSTED_PROXIES: web.AppKey[tuple[Network, ...]] = web.AppKey("trusted_proxies")
# Content (issue 3): this node's view counter (Redis buffer + flusher).
VIEWS: web.AppKey[ViewCounter] = web.AppKey("views")
# This node's cache of the public video lists (handlers/video_lists.py).
VIDEO_LISTS: web.AppKey[VideoLists] = web.AppKey("video_lists")

REQUEST_ID = web.RequestKey("request_id", str)
