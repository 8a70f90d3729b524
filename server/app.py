"""The composition root: `create_app(settings)` builds the engines' clients, every domain's
service and the HTTP kit, and wires them together. Nothing in the code base imports this
module (`make lint` checks it); run.py and the tests call it.

Engines are built here but connected when the app starts (`engines_ctx`): the asyncpg pool
and the Redis client exist from the start, so services receive them at construction, and the
first use waits for nothing but the app's own start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import asyncpg
from aiohttp import web
from prometheus_client import Gauge
from redis.asyncio import Redis

from channels.authz import VideoAccess
from channels.node import Node
from channels.publisher import Publisher
from core.errors import NotFound
from core.tokens import TokenService
from handlers.accounts import routes as accounts
from handlers.accounts.service import AccountService
from handlers.health import routes as health
from handlers.health.service import HealthService
from handlers.live import routes as live
from handlers.live.service import LiveService
from handlers.social import comment_routes
from handlers.social import routes as social
from handlers.social.comment_service import CommentService
from handlers.social.events import SocialEvents
from handlers.social.service import SocialService
from handlers.videos import events as video_events
from handlers.videos import routes as videos
from handlers.videos.events import VideoEvents
from handlers.videos.lists import VideoLists
from handlers.videos.service import VideoService
from handlers.videos.view_buffer import ViewBuffer, run_flusher
from server import realtime
from server.config import ConfigError, Settings
from server.http import docs, metrics, ratelimit, routing
from server.http.addresses import TRUSTED_PROXIES, parse_networks
from server.http.auth import TOKENS
from server.http.middleware import access_log, cors_middleware, errors, security_headers
from storage import db, migrate
from storage.videos import videos as video_rows

log = logging.getLogger("streamhub.app")

STATIC_DIR = Path(__file__).parent / "static"
ROUTERS = [
    health.routes,
    accounts.routes,
    videos.routes,
    comment_routes.routes,
    social.routes,
    live.routes,
]

# The engines' clients, for the tests and tools that reach past the API (never for handlers:
# services receive what they need when the app is built).
SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", asyncpg.Pool)
REDIS = web.AppKey("redis", Redis)


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


CleanupCtx = Callable[[web.Application], AsyncIterator[None]]


def engines_ctx(settings: Settings, pool: asyncpg.Pool, redis: Redis) -> CleanupCtx:
    """Connect Postgres (migrating first when MIGRATE_ON_START) and Redis; close them last."""

    async def ctx(_: web.Application) -> AsyncIterator[None]:
        await pool
        if settings.migrate_on_start:
            async with pool.acquire() as conn:
                await migrate.apply_pending(conn)
        await redis.ping()
        yield
        await redis.aclose()
        await pool.close()

    return ctx


def budgets(settings: Settings) -> dict[str, ratelimit.Budget]:
    """CLUTCH's "Rate Limiting" budgets, as configured."""
    return ratelimit.budgets_from(
        {
            "auth": settings.rate_limit_auth,
            "uploads": settings.rate_limit_uploads,
            "comments": settings.rate_limit_comments,
            "likes": settings.rate_limit_likes,
            ratelimit.GENERAL: settings.rate_limit_general,
        },
        per_ip={"auth"},  # guards sign-in itself: counted per client IP even with a token
    )


def rate_limiter(settings: Settings, redis: Redis) -> ratelimit.RateLimiter | None:
    if not settings.rate_limit_enabled:
        return None
    return ratelimit.RateLimiter(budgets(settings), redis)


def create_app(settings: Settings) -> web.Application:
    settings.require_strong_secret()
    assert settings.database_url and settings.redis_url, "engine URLs are resolved before"
    app = web.Application(
        middlewares=[
            metrics.http_metrics,
            access_log,
            cors_middleware(settings.cors_origins),
            errors,
        ],
        client_max_size=settings.max_body_bytes,
    )
    pool = db.make_pool(
        settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
    )
    redis = Redis.from_url(settings.redis_url, health_check_interval=30)
    tokens = token_service(settings)
    app[SETTINGS], app[DB], app[REDIS], app[TOKENS] = settings, pool, redis, tokens
    app[TRUSTED_PROXIES] = parse_networks(settings.trusted_proxies)
    app.cleanup_ctx.append(engines_ctx(settings, pool, redis))

    node_metrics = metrics.setup(
        app, allowed_networks=settings.metrics_allowed_networks, token=settings.metrics_token
    )
    node_metrics.watch_engines(pool, redis)

    async def video_access(video_id: uuid.UUID) -> VideoAccess | None:
        try:
            return video_events.video_access(await video_rows.get(pool, video_id))
        except NotFound:
            return None

    node = realtime.build_node(settings, tokens=tokens, video_access=video_access)
    node_metrics.registry.register(metrics.RealtimeCollector(node.hub))
    publisher = Publisher(node.broker)
    _wire_domains(app, settings, pool=pool, redis=redis, node=node, publisher=publisher)

    app.on_startup.append(_bootstrap_admin)
    app.on_response_prepare.append(security_headers)
    routing.register(app, ROUTERS, version_prefix=settings.api_version)
    limiter = rate_limiter(settings, redis)
    if limiter is not None:
        limiter.on_refused = node_metrics.rate_limited
    ratelimit.setup(
        app, budgets=budgets(settings), limiter=limiter, endpoints=app[routing.ENDPOINTS]
    )
    app.router.add_static("/static", STATIC_DIR)
    docs.setup(app)
    return app


def _wire_domains(
    app: web.Application,
    settings: Settings,
    *,
    pool: asyncpg.Pool,
    redis: Redis,
    node: Node,
    publisher: Publisher,
) -> None:
    """Every domain's service, built once per app from the engines it needs."""
    lists = VideoLists.create(ttl=settings.list_cache_seconds, budget=settings.list_cache_max_bytes)
    views = ViewBuffer(redis, dedup_window_seconds=settings.view_dedup_window_seconds)
    video_service = VideoService(db=pool, views=views, lists=lists, events=VideoEvents(publisher))
    social_events = SocialEvents(publisher)
    app[health.SERVICE] = HealthService(db=pool, redis=redis)
    app[accounts.SERVICE] = AccountService(db=pool, tokens=app[TOKENS])
    app[videos.SERVICE] = video_service
    app[comment_routes.SERVICE] = CommentService(
        db=pool, videos=video_service, events=social_events
    )
    app[social.SERVICE] = SocialService(db=pool, events=social_events)
    live_service = LiveService(
        db=pool, videos=video_service, presence=node.presence, publisher=publisher
    )
    app[live.SERVICE] = live_service
    realtime.serve(app, node, lists_changed=lists.invalidate)
    app.cleanup_ctx.append(_view_flusher(settings, views, pool, app[metrics.METRICS]))
    interval = settings.live_viewers_interval_seconds
    if interval > 0:

        async def push_counts() -> None:
            watched = [_video_id(channel) for channel in node.hub.channel_counts()]
            await live_service.push_viewer_counts(
                [v for v in watched if v is not None], interval_s=interval
            )

        app.cleanup_ctx.append(realtime.every(interval, "live-viewer-counts", push_counts))


def _video_id(channel: str) -> uuid.UUID | None:
    kind, _, rest = channel.partition(":")
    if kind != "video":
        return None
    try:
        return uuid.UUID(rest)
    except ValueError:
        return None


def _view_flusher(
    settings: Settings, views: ViewBuffer, pool: asyncpg.Pool, node_metrics: metrics.Metrics
) -> CleanupCtx:
    """Flush buffered views every VIEW_FLUSH_INTERVAL_SECONDS; once more on shutdown (best
    effort: what it cannot apply stays in Redis for the next node that flushes)."""
    gauges = FlushGauges(node_metrics)

    async def ctx(_: web.Application) -> AsyncIterator[None]:
        gauges.started()
        task = asyncio.create_task(
            run_flusher(
                views,
                pool,
                interval=settings.view_flush_interval_seconds,
                recover_after=settings.view_batch_recover_after_seconds,
                on_success=gauges.succeeded,
            ),
            name="view-flusher",
        )
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        try:
            await views.flush(pool, recover_after_seconds=settings.view_batch_recover_after_seconds)
        except Exception:
            log.exception("final view flush failed; buffered views stay in Redis")

    return ctx


class FlushGauges:
    """How far behind the Postgres view counts may be (docs/OPERATIONS.md, alerts)."""

    def __init__(self, node_metrics: metrics.Metrics) -> None:
        self.lag = Gauge(
            "streamhub_view_buffer_flush_lag_seconds",
            "Seconds since this node's view flusher last succeeded (or started)",
            registry=node_metrics.registry,
        )
        self.last = Gauge(
            "streamhub_view_buffer_last_flush_timestamp_seconds",
            "Unix time of this node's last successful view-buffer flush",
            registry=node_metrics.registry,
        )
        self._baseline = time.time()
        node_metrics.on_scrape(self._refresh)

    def started(self) -> None:
        self._baseline = time.time()

    def succeeded(self) -> None:
        self._baseline = now = time.time()
        self.last.set(now)

    async def _refresh(self) -> None:
        self.lag.set(max(0.0, time.time() - self._baseline))


async def _bootstrap_admin(app: web.Application) -> None:
    """OnStream's ADMIN_USERNAME/ADMIN_PASSWORD: create or update that admin at start."""
    settings = app[SETTINGS]
    if not (settings.admin_username and settings.admin_password):
        return
    await app[accounts.SERVICE].ensure_admin(
        username=settings.admin_username,
        email=settings.admin_email or f"{settings.admin_username}@admin.local",
        password=settings.admin_password,
    )
    log.info("admin account ensured", extra={"username": settings.admin_username})
