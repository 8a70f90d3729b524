"""Prometheus metrics: one registry per app, a request middleware and `GET /metrics`.

Each app owns its `CollectorRegistry`, not the process-wide default, so tests that build
several apps in one process never collide. Two nodes each expose their own figures: aggregate
them in PromQL with `sum by (...)`. docs/OPERATIONS.md says what each metric means and which
alerts to set.

Labels are bounded on purpose. `route` is the route template (`/api/videos/{video_id}`),
never the raw path, and a request that matched no route is `unmatched`. One label value per id
would grow the registry without limit.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from channels.stats import HubStats
from core.errors import Forbidden
from jobs.metrics import JobsCollector
from server import keys
from server.config import Settings
from server.ratelimit import Network, client_ip, in_networks, parse_networks

log = logging.getLogger("streamhub.metrics")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Latency buckets (seconds) around the targets: p95 under 20 ms aimed, under 200 ms promised.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0)
# A scrape must answer even when Redis hangs: its ping counts as down after this long.
REDIS_PING_TIMEOUT_S = 1.0
# nginx's code for a client that went away before the answer; not the server's fault.
CLIENT_CLOSED = 499


class RealtimeCollector(Collector):
    """Reads the realtime node's counters (`channels.stats.HubStats`) at scrape time.

    The hub counts with plain integers and never imports this module. Before the node is
    wired (or in an app without one), every figure is 0, so dashboards and alerts still find
    their series.
    """

    def __init__(self, app: web.Application) -> None:
        self._app = app

    def _node(self) -> Any:
        return self._app.get(keys.REALTIME)

    def collect(self) -> Iterator[Metric]:
        node = self._node()
        hub = getattr(node, "hub", None)
        stats = getattr(hub, "stats", None) or HubStats()
        subscriptions = sum(hub.channel_counts().values()) if hub is not None else 0
        yield GaugeMetricFamily(
            "streamhub_ws_connections",
            "Open WebSocket connections on this node",
            value=stats.connections,
        )
        yield GaugeMetricFamily(
            "streamhub_ws_subscriptions",
            "Channel subscriptions held by this node's connections",
            value=subscriptions,
        )
        messages_in = CounterMetricFamily(
            "streamhub_ws_messages_in", "Frames received from clients", labels=["type"]
        )
        for frame_type, count in sorted(stats.messages_in.items()):
            messages_in.add_metric([frame_type], count)
        yield messages_in
        yield CounterMetricFamily(
            "streamhub_ws_messages_out", "Frames written to clients", value=stats.messages_out
        )
        yield CounterMetricFamily(
            "streamhub_ws_slow_consumers_dropped",
            "Connections closed because their unsent bytes passed WS_MAX_PENDING_BYTES",
            value=stats.slow_consumers_dropped,
        )
        rejected = CounterMetricFamily(
            "streamhub_ws_rejected",
            "Frames or connections refused by a WebSocket limit",
            labels=["reason"],
        )
        rejected.add_metric(["messages"], stats.rejected_messages)
        rejected.add_metric(["connections"], stats.rejected_connections)
        yield rejected


class Metrics:
    """Every metric of one node, registered in the node's own registry."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.http_requests = Counter(
            "http_requests",
            "HTTP requests answered",
            ["route", "method", "status"],
            registry=registry,
        )
        self.http_duration = Histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.http_in_flight = Gauge(
            "http_requests_in_flight", "HTTP requests being answered now", registry=registry
        )
        self.rate_limit_rejections = Counter(
            "streamhub_rate_limit_rejections",
            "Requests refused with 429, by budget",
            ["policy"],
            registry=registry,
        )
        self.db_pool_size = Gauge(
            "streamhub_db_pool_connections",
            "Postgres connections open in the pool",
            registry=registry,
        )
        self.db_pool_idle = Gauge(
            "streamhub_db_pool_idle_connections",
            "Postgres pool connections not in use",
            registry=registry,
        )
        self.db_pool_max = Gauge(
            "streamhub_db_pool_max_connections", "DB_POOL_MAX", registry=registry
        )
        self.redis_up = Gauge(
            "streamhub_redis_up",
            "1 if Redis answered PING at the last scrape",
            registry=registry,
        )
        self.view_flush_lag = Gauge(
            "streamhub_view_buffer_flush_lag_seconds",
            "Seconds since this node's view flusher last succeeded (0 until the flusher runs)",
            registry=registry,
        )
        self.view_flush_last_success = Gauge(
            "streamhub_view_buffer_last_flush_timestamp_seconds",
            "Unix time of this node's last successful view-buffer flush",
            registry=registry,
        )
        # Job queue figures (cluster-wide, from Postgres), read at each scrape.
        self.jobs = JobsCollector()
        registry.register(self.jobs)
        # Children cached by label values: `.labels()` takes a lock on every call.
        self._requests: dict[tuple[str, str, int], Counter] = {}
        self._durations: dict[tuple[str, str], Histogram] = {}
        self._flush_baseline: float | None = None

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        counter = self._requests.get((route, method, status))
        if counter is None:
            counter = self._requests[(route, method, status)] = self.http_requests.labels(
                route=route, method=method, status=str(status)
            )
        counter.inc()
        if status == 101:
            return  # a WebSocket's "duration" is the connection's life, not a latency
        histogram = self._durations.get((route, method))
        if histogram is None:
            histogram = self._durations[(route, method)] = self.http_duration.labels(
                route=route, method=method
            )
        histogram.observe(seconds)

    def view_flusher_started(self) -> None:
        """Hook: the flusher runs from now on, so a flush that never succeeds shows as lag."""
        self._flush_baseline = time.time()

    def view_flush_succeeded(self) -> None:
        """Hook for the view-buffer flusher, called after each successful flush.

        Buffered views are at most (lag + flush interval) old, so the lag bounds how far the
        Postgres view counts are behind.
        """
        self._flush_baseline = now = time.time()
        self.view_flush_last_success.set(now)

    async def refresh(self, app: web.Application) -> None:
        """Figures read at scrape time: the Postgres pool, the job queue, a Redis ping, the
        flush lag."""
        if self._flush_baseline is not None:
            self.view_flush_lag.set(max(0.0, time.time() - self._flush_baseline))
        pool = app.get(keys.DB)
        if pool is not None:
            self.db_pool_size.set(pool.get_size())
            self.db_pool_idle.set(pool.get_idle_size())
            self.db_pool_max.set(pool.get_max_size())
            await self.jobs.refresh(pool)
        redis = app.get(keys.REDIS)
        up = 0
        if redis is not None:
            try:
                async with asyncio.timeout(REDIS_PING_TIMEOUT_S):
                    up = int(bool(await redis.ping()))
            except Exception as exc:  # any failure is "down"; the scrape itself must succeed
                log.warning("redis ping failed during scrape", extra={"error": repr(exc)})
        self.redis_up.set(up)


def route_template(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def http_metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost middleware: counts every answer, errors turned into responses included."""
    metrics = request.app[keys.METRICS]
    started = time.perf_counter()
    status = 500
    metrics.http_in_flight.inc()
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:  # redirects and the like pass through the error format
        status = exc.status
        raise
    except asyncio.CancelledError:
        status = CLIENT_CLOSED
        raise
    finally:
        metrics.http_in_flight.dec()
        metrics.observe_request(
            route_template(request), request.method, status, time.perf_counter() - started
        )


# --- GET /metrics --------------------------------------------------------------------------

ALLOWED_NETWORKS = web.AppKey("metrics_allowed_networks", tuple[Network, ...])


def _token_ok(request: web.Request, token: str | None) -> bool:
    if not token:
        return False
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


async def metrics_view(request: web.Request) -> web.Response:
    """Prometheus text format; only for configured networks or with `Bearer $METRICS_TOKEN`."""
    app = request.app
    ip = client_ip(request, app[keys.TRUSTED_PROXIES])
    token = app[keys.SETTINGS].metrics_token
    if not (in_networks(ip, app[ALLOWED_NETWORKS]) or _token_ok(request, token)):
        raise Forbidden(
            "Metrics are only served to configured networks or with the metrics token",
            details={"client_ip": ip},
        )
    metrics = app[keys.METRICS]
    await metrics.refresh(app)
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    response = web.Response(body=encode(metrics.registry))
    response.headers["Content-Type"] = content_type
    response.headers["Cache-Control"] = "no-store"
    return response


def setup(app: web.Application, settings: Settings) -> None:
    """Create this app's registry and serve it at GET /metrics (outside /api: no rate limit)."""
    app[keys.METRICS] = metrics = Metrics()
    metrics.registry.register(RealtimeCollector(app))
    app[ALLOWED_NETWORKS] = parse_networks(settings.metrics_allowed_networks)
    app.router.add_get("/metrics", metrics_view)
