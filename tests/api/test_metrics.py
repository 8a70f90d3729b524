"""GET /metrics: Prometheus text, route templates as labels, guarded by network or token."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from channels.node import REALTIME
from server.app import REDIS, create_app
from tests.conftest import make_settings
from tests.jobs_support import running_worker
from tests.waiting import wait_for


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, **labels: str) -> float | None:
    return samples(text).get((name, frozenset(labels.items())))


async def scrape(client: Any, **kwargs: Any) -> str:
    resp = await client.get("/metrics", **kwargs)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("text/plain")
    return await resp.text()


async def test_requests_are_labelled_by_route_template(aiohttp_client: Any, engines: Any) -> None:
    app = create_app(make_settings(engines))

    async def item(request: web.Request) -> web.Response:
        return web.Response(text=request.match_info["item_id"])

    app.router.add_get("/items/{item_id}", item)
    client = await aiohttp_client(app)
    for item_id in ("1", "2", "3"):
        assert (await client.get(f"/items/{item_id}")).status == 200
    assert (await client.get("/api/auth/me")).status == 401
    assert (await client.get("/no/such/path")).status == 404

    text = await scrape(client)
    assert (
        value(text, "http_requests_total", route="/items/{item_id}", method="GET", status="200")
        == 3
    )
    assert value(text, "http_requests_total", route="/api/auth/me", method="GET", status="401") == 1
    assert value(text, "http_requests_total", route="unmatched", method="GET", status="404") == 1
    assert (
        value(text, "http_request_duration_seconds_count", route="/items/{item_id}", method="GET")
        == 3
    )
    assert "/items/1" not in text, "raw paths never become labels"


async def test_engines_and_pool(client: Any) -> None:
    text = await scrape(client)
    assert value(text, "streamhub_redis_up") == 1
    assert value(text, "streamhub_db_pool_max_connections") == 5
    size = value(text, "streamhub_db_pool_connections")
    idle = value(text, "streamhub_db_pool_idle_connections")
    assert size is not None and idle is not None and 1 <= size <= 5 and idle <= size


async def test_redis_down_is_reported_not_raised(client: Any) -> None:
    async def broken() -> bool:
        raise ConnectionError("redis is down")

    client.app[REDIS].ping = broken
    assert value(await scrape(client), "streamhub_redis_up") == 0


async def test_rate_limit_rejections_by_policy(aiohttp_client: Any, engines: Any) -> None:
    client = await aiohttp_client(
        create_app(
            make_settings(
                engines,
                RATE_LIMIT_ENABLED=True,
                RATE_LIMIT_AUTH="1/hour",
                RATE_LIMIT_TIMEOUT_SECONDS=10,
            )
        )
    )
    for _ in range(3):
        await client.post("/api/auth/login", json={"login": "x", "password": "y"})
    text = await scrape(client)
    assert value(text, "streamhub_rate_limit_rejections_total", policy="auth") == 2
    assert (
        value(text, "http_requests_total", route="/api/auth/login", method="POST", status="429")
        == 2
    )


async def test_websocket_figures_come_from_the_hub_stats(client: Any) -> None:
    text = await scrape(client)
    assert value(text, "streamhub_ws_connections") == 0, "series exist before any socket"
    # The hub counts with plain integers (channels/stats.py); set them as traffic would.
    stats = client.app[REALTIME].hub.stats
    stats.connections = 3
    stats.message_in("subscribe")
    stats.message_in("subscribe")
    stats.message_in("ping")
    stats.messages_out = 42
    stats.slow_consumers_dropped = 1
    stats.rejected_messages = 5
    text = await scrape(client)
    assert value(text, "streamhub_ws_connections") == 3
    assert value(text, "streamhub_ws_subscriptions") == 0
    assert value(text, "streamhub_ws_messages_in_total", type="subscribe") == 2
    assert value(text, "streamhub_ws_messages_in_total", type="ping") == 1
    assert value(text, "streamhub_ws_messages_out_total") == 42
    assert value(text, "streamhub_ws_slow_consumers_dropped_total") == 1
    assert value(text, "streamhub_ws_rejected_total", reason="messages") == 5
    assert value(text, "streamhub_ws_rejected_total", reason="connections") == 0


async def test_view_flush_lag(aiohttp_client: Any, engines: Any) -> None:
    """The flush figures come from the last done `views.flush` job: none before the first
    flush (timestamp 0), set once a worker has flushed."""
    app = create_app(make_settings(engines, VIEW_FLUSH_INTERVAL_SECONDS=0.05))
    client = await aiohttp_client(app)
    text = await scrape(client)
    assert value(text, "streamhub_view_buffer_last_flush_timestamp_seconds") == 0
    assert value(text, "streamhub_view_buffer_flush_lag_seconds") is not None

    async def flushed() -> bool:
        stamp = value(await scrape(client), "streamhub_view_buffer_last_flush_timestamp_seconds")
        assert stamp is not None, "the series exists from the start"
        return stamp > 0

    async with running_worker(app):
        await wait_for(flushed, message="a views.flush job done")
    lag = value(await scrape(client), "streamhub_view_buffer_flush_lag_seconds")
    assert lag is not None and lag < 60


async def test_forbidden_outside_allowed_networks(aiohttp_client: Any, engines: Any) -> None:
    client = await aiohttp_client(
        create_app(
            make_settings(engines, METRICS_ALLOWED_NETWORKS="10.0.0.0/8", METRICS_TOKEN="s3cret")
        )
    )
    resp = await client.get("/metrics")
    assert resp.status == 403
    body = await resp.json()
    assert body["success"] is False and body["error"]["code"] == "FORBIDDEN"
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status == 403
    text = await scrape(client, headers={"Authorization": "Bearer s3cret"})
    assert "http_requests_total" in text


async def test_forwarded_address_counts_only_from_trusted_proxy(
    aiohttp_client: Any, engines: Any
) -> None:
    client = await aiohttp_client(
        create_app(make_settings(engines, TRUSTED_PROXIES="127.0.0.1/32"))
    )
    # Behind a trusted proxy the real client is outside the allowed networks.
    resp = await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"})
    assert resp.status == 403


async def test_each_app_has_its_own_registry(aiohttp_client: Any, engines: Any) -> None:
    first = await aiohttp_client(create_app(make_settings(engines)))
    second = await aiohttp_client(create_app(make_settings(engines)))
    await first.get("/healthz")
    await first.get("/healthz")
    assert (
        value(
            await scrape(second),
            "http_requests_total",
            route="/healthz",
            method="GET",
            status="200",
        )
        is None
    )
    assert (
        value(
            await scrape(first), "http_requests_total", route="/healthz", method="GET", status="200"
        )
        == 2
    )
