"""The composition root: `create_app(settings)` builds the engines' clients, every domain's
service (server/services.py) and the HTTP kit, and wires them together. Nothing in the code
base imports this module (`make lint` checks it); run.py and the tests call it.

Engines are built here but connected when the app starts (`engines_ctx`): the asyncpg pool
and the Redis client exist from the start, so services receive them at construction, and the
first use waits for nothing but the app's own start-up. Background work (view flushes, live
viewer counts) runs on the job worker (server/worker.py), which builds the same services.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
from aiohttp import web
from prometheus_client import Gauge
from redis.asyncio import Redis

from channels.publisher import Publisher
from channels.redis_client import command_client
from handlers.accounts import admin_routes as account_admin
from handlers.accounts import privacy_routes
from handlers.accounts import routes as accounts
from handlers.admin import routes as admin
from handlers.apikeys import routes as api_keys
from handlers.catalogue import admin_routes as catalogue_admin
from handlers.catalogue import library_routes
from handlers.catalogue import routes as catalogue
from handlers.catalogue.admin import CatalogueAdmin
from handlers.catalogue.metrics import CatalogueCollector
from handlers.courses import routes as courses
from handlers.health import routes as health
from handlers.live import routes as live
from handlers.media import routes as media
from handlers.social import comment_routes
from handlers.social import routes as social
from handlers.torrents import routes as torrents
from handlers.videos import routes as videos
from handlers.videos.jobs import FLUSH_VIEWS
from jobs.metrics import JobsCollector
from objectstore.s3 import S3Store
from server import realtime
from server.config import Settings
from server.http import docs, metrics, ratelimit, routing
from server.http.addresses import TRUSTED_PROXIES, parse_networks
from server.http.auth import API_KEYS, TOKENS
from server.http.compression import compression
from server.http.middleware import access_log, cors_middleware, errors, security_headers
from server.services import Services, build_services, token_service
from storage import db, jobs, migrate

log = logging.getLogger("streamhub.app")

STATIC_DIR = Path(__file__).parent / "static"
ROUTERS = [
    health.routes,
    accounts.routes,
    account_admin.routes,
    privacy_routes.routes,
    courses.routes,
    videos.routes,
    comment_routes.routes,
    social.routes,
    live.routes,
    torrents.routes,
    api_keys.routes,
    catalogue.routes,
    library_routes.routes,
    catalogue_admin.routes,
    media.routes,
]

# The engines' clients and services, for the tests and tools that reach past the API (never
# for handlers: each route module declares the key of its own service).
SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", asyncpg.Pool)
REDIS = web.AppKey("redis", Redis)
SERVICES = web.AppKey("services", Services)

CleanupCtx = Callable[[web.Application], AsyncIterator[None]]


def engines_ctx(settings: Settings, pool: asyncpg.Pool, redis: Redis) -> CleanupCtx:
    """Connect Postgres (migrating first when MIGRATE_ON_START) and Redis; close them last."""

    async def ctx(_: web.Application) -> AsyncIterator[None]:
        await pool
        if settings.migrate_on_start:
            # A connection of its own: the pool's statement deadline fits requests, not DDL.
            assert settings.database_url
            conn = await asyncpg.connect(settings.database_url)
            try:
                await migrate.apply_pending(conn)
            finally:
                await conn.close()
        await redis.ping()
        yield
        await redis.aclose()
        await pool.close()

    return ctx


def object_store_ctx(store: S3Store) -> CleanupCtx:
    """Open the object store's client at start; close it at shutdown."""

    async def ctx(_: web.Application) -> AsyncIterator[None]:
        await store.start()
        yield
        await store.close()

    return ctx


def log_shutdown(app: web.Application, settings: Settings) -> None:
    """Log when the graceful shutdown starts (the node has stopped accepting connections and
    lets in-flight requests finish) and when it ends (every clean-up done, engines closed)."""
    started: list[float] = []

    async def starting(_: web.Application) -> None:
        started.append(time.monotonic())
        log.info("shutdown started", extra={"shutdown_timeout_s": settings.shutdown_timeout})

    async def lifetime(_: web.Application) -> AsyncIterator[None]:
        yield
        took = time.monotonic() - started[0] if started else 0.0
        log.info("shutdown complete", extra={"duration_ms": round(took * 1000, 1)})

    app.on_shutdown.append(starting)
    app.cleanup_ctx.append(lifetime)


def budgets(settings: Settings) -> dict[str, ratelimit.Budget]:
    """CLUTCH's "Rate Limiting" budgets, as configured."""
    return ratelimit.budgets_from(
        {
            "auth": settings.rate_limit_auth,
            "uploads": settings.rate_limit_uploads,
            "comments": settings.rate_limit_comments,
            "likes": settings.rate_limit_likes,
            "ingest": settings.rate_limit_ingest,
            ratelimit.GENERAL: settings.rate_limit_general,
            "catalogue": settings.rate_limit_catalogue,
        },
        # auth guards sign-in itself: counted per client IP even with a token; catalogue is
        # OnStream's "100 requests per minute per IP".
        per_ip={"auth", "catalogue"},
    )


def rate_limiter(settings: Settings, redis: Redis) -> ratelimit.RateLimiter | None:
    if not settings.rate_limit_enabled:
        return None
    return ratelimit.RateLimiter(
        budgets(settings), redis, timeout_s=settings.rate_limit_timeout_seconds
    )


def create_app(settings: Settings) -> web.Application:
    settings.require_strong_secret()
    assert settings.database_url and settings.redis_url, "engine URLs are resolved before"
    app = web.Application(
        middlewares=[
            metrics.http_metrics,
            access_log,
            cors_middleware(settings.cors_origins),
            compression(settings.compress_min_bytes),
            errors,
        ],
        client_max_size=settings.max_body_bytes,
    )
    pool = db.make_pool(
        settings.database_url,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        command_timeout=settings.db_command_timeout_seconds,
        acquire_timeout=settings.db_acquire_timeout_seconds,
    )
    redis = command_client(
        settings.redis_url, timeout_s=settings.redis_timeout_seconds, health_check_interval=30
    )
    tokens = token_service(settings)
    app[SETTINGS], app[DB], app[REDIS], app[TOKENS] = settings, pool, redis, tokens
    app[TRUSTED_PROXIES] = parse_networks(settings.trusted_proxies)
    log_shutdown(app, settings)  # first: its end runs after every other clean-up
    app.cleanup_ctx.append(engines_ctx(settings, pool, redis))

    node = realtime.build_node(settings, tokens=tokens)
    services = build_services(
        settings,
        pool=pool,
        redis=redis,
        tokens=tokens,
        publisher=Publisher(node.broker),
        presence=node.presence,
    )
    _serve_domains(app, services)
    realtime.serve(app, node, services)
    admin.setup(app, services.admin, services.accounts)
    app[admin.SOCKETS] = lambda: node.hub.stats.connections

    node_metrics = metrics.setup(
        app, allowed_networks=settings.metrics_allowed_networks, token=settings.metrics_token
    )
    node_metrics.watch_engines(pool, redis)
    node_metrics.registry.register(metrics.RealtimeCollector(node.hub))
    queue_figures = JobsCollector()  # cluster-wide, read from Postgres at each scrape
    node_metrics.registry.register(queue_figures)
    node_metrics.on_scrape(lambda: queue_figures.refresh(pool))
    FlushLag(node_metrics, pool)
    catalogue_figures = CatalogueCollector(services.catalogue)  # cluster-wide, from Redis
    node_metrics.registry.register(catalogue_figures)
    node_metrics.on_scrape(catalogue_figures.refresh)

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
    add_pages(app)
    docs.setup(app)
    return app


# Pages the links in account mail open; each posts the link's token to the API.
PAGES = {"/verify-email": "verify-email.html", "/reset-password": "reset-password.html"}


def add_pages(app: web.Application) -> None:
    for path, name in PAGES.items():
        page = STATIC_DIR / "pages" / name

        async def serve(_: web.Request, page: Path = page) -> web.FileResponse:
            return web.FileResponse(page, headers={"Cache-Control": "no-store"})

        app.router.add_get(path, serve)


def _serve_domains(app: web.Application, services: Services) -> None:
    """Each route module finds its domain's service under its own key."""
    app[SERVICES] = services
    app[health.SERVICE] = services.health
    app[accounts.SERVICE] = services.accounts
    app[courses.SERVICE] = services.courses
    app[privacy_routes.SERVICE] = services.privacy
    app[videos.SERVICE] = services.videos
    app[comment_routes.SERVICE] = services.comments
    app[social.SERVICE] = services.social
    app[live.SERVICE] = services.live
    app[torrents.SERVICE] = services.torrents
    app[api_keys.SERVICE] = services.api_keys
    app[API_KEYS] = services.api_keys.check
    app[catalogue.SERVICE] = services.catalogue
    app[library_routes.SERVICE] = services.library
    app[catalogue_admin.SERVICE] = CatalogueAdmin(
        catalogue=services.catalogue, library=services.library, accounts=services.accounts
    )
    app.cleanup_ctx.append(_closing(services))
    app[media.SERVICE] = services.media
    if services.object_store is not None:
        app.cleanup_ctx.append(object_store_ctx(services.object_store))


def _closing(services: Services) -> CleanupCtx:
    """Close the catalogue's upstream HTTP sessions when the app stops."""

    async def ctx(_: web.Application) -> AsyncIterator[None]:
        yield
        await services.catalogue.close()

    return ctx


class FlushLag:
    """How far behind the Postgres view counts may be (docs/OPERATIONS.md, alerts), read
    from the last done `views.flush` job, so every node reports the cluster's figure."""

    def __init__(self, node_metrics: metrics.Metrics, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.started = time.time()
        self.lag = Gauge(
            "streamhub_view_buffer_flush_lag_seconds",
            "Seconds since the last successful view flush (or since this node started)",
            registry=node_metrics.registry,
        )
        self.last = Gauge(
            "streamhub_view_buffer_last_flush_timestamp_seconds",
            "Unix time of the last successful view-buffer flush (0: none seen yet)",
            registry=node_metrics.registry,
        )
        node_metrics.on_scrape(self.refresh)

    async def refresh(self) -> None:
        finished = await jobs.last_done(self.pool, FLUSH_VIEWS)
        last = finished.timestamp() if finished is not None else 0.0
        self.last.set(last)
        self.lag.set(max(0.0, time.time() - max(last, self.started)))


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
