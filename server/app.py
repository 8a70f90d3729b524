"""The app factory: `create_app(settings)` wires engines, middleware and every router."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

from aiohttp import web
from redis.asyncio import Redis

from core import passwords
from core.tokens import TokenService
from handlers import auth, comments, follows, health, live, profiles, videos
from handlers.video_lists import VideoLists
from server import content, docs, keys, metrics, ratelimit, realtime, routing
from server.config import ConfigError, Settings
from server.middleware import access_log, cors_middleware, errors, security_headers
from storage import db, migrate, users

log = logging.getLogger("streamhub.app")

STATIC_DIR = Path(__file__).parent / "static"
ROUTERS = [
    health.routes,
    auth.routes,
    videos.routes,
    comments.routes,
    profiles.routes,
    follows.routes,
    live.routes,
]


async def postgres_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    assert settings.database_url, "DATABASE_URL is resolved before the app is built"
    pool = await db.create_pool(
        settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
    )
    if settings.migrate_on_start:
        async with pool.acquire() as conn:
            await migrate.apply_pending(conn)
    app[keys.DB] = pool
    yield
    await pool.close()


async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    assert settings.redis_url, "REDIS_URL is resolved before the app is built"
    client = Redis.from_url(settings.redis_url, health_check_interval=30)
    await client.ping()
    app[keys.REDIS] = client
    yield
    await client.aclose()


async def bootstrap_admin(app: web.Application) -> None:
    """OnStream's ADMIN_USERNAME/ADMIN_PASSWORD: create or update that admin at start."""
    settings = app[keys.SETTINGS]
    if not (settings.admin_username and settings.admin_password):
        return
    email = settings.admin_email or f"{settings.admin_username}@admin.local"
    await users.upsert_admin(
        app[keys.DB],
        username=settings.admin_username,
        email=email,
        password_hash=await asyncio.get_running_loop().run_in_executor(
            None, passwords.hash_password, settings.admin_password
        ),
        avatar_url=auth.DEFAULT_AVATAR_URL,
    )
    log.info("admin account ensured", extra={"username": settings.admin_username})


def token_service(settings: Settings) -> TokenService:
    if not settings.jwt_secret_key:
        raise ConfigError("JWT_SECRET_KEY must be resolved before the app is built")
    return TokenService(
        secret=settings.jwt_secret_key,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        access_ttl=timedelta(minutes=settings.access_token_expire_minutes),
        refresh_ttl=timedelta(days=settings.refresh_token_expire_days),
    )


def create_app(settings: Settings) -> web.Application:
    settings.require_strong_secret()
    app = web.Application(
        middlewares=[
            metrics.http_metrics,
            access_log,
            cors_middleware(settings.cors_origins),
            errors,
        ],
        client_max_size=settings.max_body_bytes,
    )
    app[keys.SETTINGS] = settings
    app[keys.TOKENS] = token_service(settings)
    app[keys.VIDEO_LISTS] = VideoLists.from_settings(settings)
    app.cleanup_ctx.append(postgres_ctx)
    app.cleanup_ctx.append(redis_ctx)
    app.cleanup_ctx.append(content.view_counter_ctx)
    realtime.setup(app, settings)  # sets app[keys.BROKER]; serves /ws
    app.on_startup.append(bootstrap_admin)
    app.on_response_prepare.append(security_headers)
    routing.register(app, ROUTERS, version_prefix=settings.api_version)
    ratelimit.setup(app, settings)
    metrics.setup(app, settings)
    app.router.add_static("/static", STATIC_DIR)
    docs.setup(app)
    return app
