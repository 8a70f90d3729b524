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
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import asyncpg
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from redis.asyncio import Redis

from core.errors import Forbidden
from server.http.addresses import Network, caller_ip, in_networks, parse_networks

if TYPE_CHECKING:
    from channels.hub import Hub

log = logging.getLogger("streamhub.metrics")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# A figure read at scrape time (a pool size, a ping): runs before the registry is encoded.
ScrapeHook = Callable[[], Awaitable[None]]

# Latency buckets (seconds) around the targets: p95 under 20 ms aimed, under 200 ms promised.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0)
# A scrape must answer even when Redis hangs: its ping counts as down after this long.
REDIS_PING_TIMEOUT_S = 1.0
# nginx's code for a client that went away before the answer; not the server's fault.
CLIENT_CLOSED = 499


class RealtimeCollector(Collector):
    """Reads the realtime hub's counters (`channels.stats.HubStats`) at scrape time.

    The hub counts with plain integers and never imports this module.
    """

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    def collect(self) -> Iterator[Metric]:
        hub = self._hub
        stats = hub.stats
        subscriptions = sum(hub.channel_counts().values())
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


@dataclass(frozen=True, slots=True)
class Traffic:
    """This node's HTTP answers since it started (the dashboard's widget)."""

    requests: int
    client_errors: int
    server_errors: int
    per_second: float
    uptime_s: float


class Metrics:
    """Every metric of one node, registered in the node's own registry."""

    def traffic(self) -> Traffic:
        counts = {"all": 0.0, "4": 0.0, "5": 0.0}
        for metric in self.http_requests.collect():
            for sample in metric.samples:
                if not sample.name.endswith("_total"):
                    continue
                counts["all"] += sample.value
                first = str(sample.labels.get("status", ""))[:1]
                if first in counts:
                    counts[first] += sample.value
        uptime = max(time.monotonic() - self.started, 1e-9)
        return Traffic(
            requests=int(counts["all"]),
            client_errors=int(counts["4"]),
            server_errors=int(counts["5"]),
            per_second=counts["all"] / uptime,
            uptime_s=uptime,
        )

    def __init__(self) -> None:
        self.started = time.monotonic()
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
        # Children cached by label values: `.labels()` takes a lock on every call.
        self._requests: dict[tuple[str, str, int], Counter] = {}
        self._durations: dict[tuple[str, str], Histogram] = {}
        self._scrape_hooks: list[ScrapeHook] = []

    def on_scrape(self, hook: ScrapeHook) -> None:
        """Run `hook` before every scrape (it sets its gauges); a failing hook is logged."""
        self._scrape_hooks.append(hook)

    def rate_limited(self, policy: str) -> None:
        self.rate_limit_rejections.labels(policy=policy).inc()

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

    async def refresh(self) -> None:
        """Figures read at scrape time, from every registered hook."""
        for hook in self._scrape_hooks:
            try:
                await hook()
            except Exception as exc:  # the scrape itself must succeed
                log.warning("metrics hook failed", extra={"error": repr(exc)})

    def watch_engines(self, pool: asyncpg.Pool, redis: Redis) -> None:
        """Report the Postgres pool's size and whether Redis answers a ping, at each scrape."""

        async def engines() -> None:
            self.db_pool_size.set(pool.get_size())
            self.db_pool_idle.set(pool.get_idle_size())
            self.db_pool_max.set(pool.get_max_size())
            up = 0
            try:
                async with asyncio.timeout(REDIS_PING_TIMEOUT_S):
                    up = int(bool(await redis.ping()))
            except Exception as exc:  # any failure is "down"
                log.warning("redis ping failed during scrape", extra={"error": repr(exc)})
            self.redis_up.set(up)

        self.on_scrape(engines)


def route_template(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def http_metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost middleware: counts every answer, errors turned into responses included."""
    metrics = request.app[METRICS]
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

METRICS = web.AppKey("metrics", Metrics)
ALLOWED_NETWORKS = web.AppKey("metrics_allowed_networks", tuple[Network, ...])
TOKEN = web.AppKey("metrics_token", str)


def _token_ok(request: web.Request, token: str | None) -> bool:
    if not token:
        return False
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


async def metrics_view(request: web.Request) -> web.Response:
    """Prometheus text format; only for configured networks or with `Bearer $METRICS_TOKEN`."""
    app = request.app
    ip = caller_ip(request)
    token = app.get(TOKEN)
    if not (in_networks(ip, app[ALLOWED_NETWORKS]) or _token_ok(request, token)):
        raise Forbidden(
            "Metrics are only served to configured networks or with the metrics token",
            details={"client_ip": ip},
        )
    metrics = app[METRICS]
    await metrics.refresh()
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    response = web.Response(body=encode(metrics.registry))
    response.headers["Content-Type"] = content_type
    response.headers["Cache-Control"] = "no-store"
    return response


def setup(app: web.Application, *, allowed_networks: Sequence[str], token: str | None) -> Metrics:
    """Create this app's registry and serve it at GET /metrics (outside /api: no rate limit)."""
    app[METRICS] = metrics = Metrics()
    app[ALLOWED_NETWORKS] = parse_networks(allowed_networks)
    if token:
        app[TOKEN] = token
    app.router.add_get("/metrics", metrics_view)
    return metrics
