"""Chaos: Postgres or Redis frozen (SIGSTOP) under a running node. Every answer comes within a
bound (generous: the deadlines here are 1-2 s), a request that needs the frozen engine is a
503 SERVICE_UNAVAILABLE with Retry-After, never a 500, and the node serves again once the
engine is thawed (SIGCONT, always sent: see tests/chaos/engines.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from devservices.postgres import EmbeddedPostgres
from devservices.stack import Engines
from server.app import create_app
from tests.chaos.engines import frozen, own_redis, postgres_pid, redis_pid, thaw
from tests.conftest import Accounts, _migrate, make_settings
from tests.waiting import wait_for

pytestmark = pytest.mark.timeout(180)

# Whatever the engines do, an answer comes before this: several times the deadlines below.
BOUND_S = 15.0
DEADLINES = {
    "DB_ACQUIRE_TIMEOUT_SECONDS": 1,
    "DB_COMMAND_TIMEOUT_SECONDS": 2,
    "REDIS_TIMEOUT_SECONDS": 1,
    "READYZ_TIMEOUT_SECONDS": 2,
}


@pytest.fixture(scope="module")
def own_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    """A Postgres for this module alone: freezing it stops nobody else's tests."""
    server = EmbeddedPostgres(tmp_path_factory.mktemp("frozen-pg"))
    asyncio.run(_migrate(server.start()))
    try:
        yield server
    finally:
        thaw(postgres_pid(server))  # in case a test was interrupted while it was frozen
        server.stop()


async def _answer(request: Any) -> Any:
    """The response, which must come within BOUND_S."""
    async with asyncio.timeout(BOUND_S):
        return await request


async def _unavailable(resp: Any) -> None:
    assert resp.status == 503, await resp.text()
    body = await resp.json()
    assert body["success"] is False
    assert set(body["error"]) == {"code", "message", "details", "field_errors"}
    assert body["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert int(resp.headers["Retry-After"]) > 0


async def _node(aiohttp_client: Any, engines: Engines, **overrides: Any) -> tuple[Any, Accounts]:
    settings = make_settings(engines, RATE_LIMIT_ENABLED=True, **{**DEADLINES, **overrides})
    client = await aiohttp_client(create_app(settings))
    return client, Accounts(client, engines.database_url)


async def _video(client: Any, accounts: Accounts) -> tuple[str, dict[str, Any]]:
    creator = await accounts.register(role="creator")
    resp = await client.post(
        "/api/videos",
        json={"title": "frozen", "video_url": "https://cdn.example.com/v.mp4"},
        headers=creator["headers"],
    )
    assert resp.status == 201, await resp.text()
    return (await resp.json())["id"], creator


async def test_frozen_postgres_answers_503_in_time_then_recovers(
    aiohttp_client: Any, own_postgres: EmbeddedPostgres, tmp_path: Any
) -> None:
    with own_redis(tmp_path / "redis") as redis_server:
        engines = Engines(database_url=own_postgres.url("streamhub"), redis_url=redis_server.url)
        client, accounts = await _node(aiohttp_client, engines)
        video, _ = await _video(client, accounts)
        fan = await accounts.register()

        with frozen(postgres_pid(own_postgres)):
            await _unavailable(await _answer(client.get(f"/api/videos/{video}")))
            # More requests than the pool has connections: waiting for one is bounded too.
            reads = [_answer(client.get(f"/api/videos/{video}")) for _ in range(8)]
            for resp in await asyncio.gather(*reads):
                await _unavailable(resp)
            like = client.post(
                f"/api/videos/{video}/like", json={"action": "like"}, headers=fan["headers"]
            )
            await _unavailable(await _answer(like))
            comment = client.post(
                f"/api/videos/{video}/comments", json={"content": "hi"}, headers=fan["headers"]
            )
            await _unavailable(await _answer(comment))
            ready = await _answer(client.get("/readyz"))
            assert ready.status == 503
            checks = (await ready.json())["error"]["details"]["checks"]
            assert checks == {"postgres": "timeout", "redis": "ok"}
            assert (await _answer(client.get("/healthz"))).status == 200

        async def serves_again() -> bool:
            return (await client.get(f"/api/videos/{video}")).status == 200

        await wait_for(serves_again, message="the node did not serve after Postgres thawed")
        assert (await client.get("/readyz")).status == 200


async def test_frozen_redis_delays_no_request_past_its_deadline(
    aiohttp_client: Any, engines: Engines, tmp_path: Any
) -> None:
    with own_redis(tmp_path / "redis") as redis_server:
        client, accounts = await _node(
            aiohttp_client, engines, REDIS_URL=redis_server.url, BROKER="redis"
        )
        video, creator = await _video(client, accounts)
        fan = await accounts.register()

        with frozen(redis_pid(redis_server)):
            # Rate limits fail open, views and presence degrade, events are dropped: all 2xx.
            assert (await _answer(client.get("/api/videos"))).status == 200
            read = await _answer(client.get(f"/api/videos/{video}"))
            assert read.status == 200, await read.text()
            like = client.post(
                f"/api/videos/{video}/like", json={"action": "like"}, headers=fan["headers"]
            )
            resp = await _answer(like)
            assert resp.status == 200 and (await resp.json())["like_count"] == 1
            view = client.post(f"/api/videos/{video}/view", json={}, headers=fan["headers"])
            assert (await _answer(view)).status == 200
            edit = client.patch(
                f"/api/videos/{video}", json={"title": "still frozen"}, headers=creator["headers"]
            )
            assert (await _answer(edit)).status == 200
            ready = await _answer(client.get("/readyz"))
            assert ready.status == 503
            checks = (await ready.json())["error"]["details"]["checks"]
            assert checks == {"postgres": "ok", "redis": "timeout"}

        async def ready_again() -> bool:
            return (await client.get("/readyz")).status == 200

        await wait_for(ready_again, message="not ready after Redis thawed")


async def test_rate_limit_check_gives_up_before_the_redis_deadline(
    aiohttp_client: Any, engines: Engines, tmp_path: Any
) -> None:
    with own_redis(tmp_path / "redis") as redis_server:
        # Redis commands may wait a minute here; the rate-limit check must not.
        client, _ = await _node(
            aiohttp_client, engines, REDIS_URL=redis_server.url, REDIS_TIMEOUT_SECONDS=60
        )
        assert "X-RateLimit-Remaining" in (await client.get("/api/videos")).headers
        with frozen(redis_pid(redis_server)):
            resp = await _answer(client.get("/api/videos"))
            assert resp.status == 200
            assert "X-RateLimit-Remaining" not in resp.headers, "the check was skipped"
