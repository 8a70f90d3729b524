"""Typed keys for everything a node keeps in its application and requests."""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg
from aiohttp import web
from redis.asyncio import Redis

from channels.broker import Broker
from core.tokens import TokenService
from server.config import Settings

if TYPE_CHECKING:
    from server.routing import Endpoint

SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", asyncpg.Pool)
REDIS = web.AppKey("redis", Redis)
TOKENS = web.AppKey("tokens", TokenService)
BROKER = web.AppKey("broker", Broker)
ENDPOINTS = web.AppKey("endpoints", list["Endpoint"])

REQUEST_ID = web.RequestKey("request_id", str)
