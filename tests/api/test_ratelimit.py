"""Rate limits: CLUTCH's budgets in Redis, shared by nodes, exact under concurrency."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from server.app import create_app, rate_limiter
from server.http.ratelimit import RATE_LIMITER
from server.http.routing import Router
from tests.conftest import STRONG_PASSWORD, make_settings
from tests.content import make_user

# The tests here count budgets exactly, so a check must not give up (and fail open) because a
# loaded machine is slow; the deadline itself is tested in tests/chaos with a frozen Redis.
LIMITED = {"RATE_LIMIT_ENABLED": True, "RATE_LIMIT_TIMEOUT_SECONDS": 10}


async def limited_client(aiohttp_client: Any, engines: Any, **env: Any) -> Any:
    return await aiohttp_client(create_app(make_settings(engines, **LIMITED, **env)))


def bad_login(client: Any, **kwargs: Any) -> Any:
    return client.post("/api/auth/login", json={"login": "nobody", "password": "wrong"}, **kwargs)


# --- unit ----------------------------------------------------------------------------------


async def test_gcra_burst_then_refuses_with_retry_after(engines: Any) -> None:
    redis = Redis.from_url(engines.redis_url)
    settings = make_settings(engines, **LIMITED, RATE_LIMIT_LIKES="4/hour")
    limiter = rate_limiter(settings, redis)
    assert limiter is not None
    try:
        seen = [await limiter.hit([("likes", "user:u1")]) for _ in range(5)]
    finally:
        await redis.aclose()
    assert [d.allowed for d in seen] == [True] * 4 + [False]
    assert [d.remaining for d in seen] == [3, 2, 1, 0, 0]
    refused = seen[-1]
    assert 899 <= refused.retry_after_ms / 1000 <= 900  # one request every 15 minutes
    assert refused.headers()["Retry-After"] == "900"
    assert int(refused.headers()["X-RateLimit-Reset"]) == 3600


# --- over HTTP -----------------------------------------------------------------------------


async def test_auth_budget_is_per_ip_and_answers_429(aiohttp_client: Any, engines: Any) -> None:
    client = await limited_client(aiohttp_client, engines, RATE_LIMIT_AUTH="3/minute")
    started = time.monotonic()
    for remaining in (2, 1, 0):
        resp = await bad_login(client)
        assert resp.status == 401
        assert resp.headers["X-RateLimit-Limit"] == "3"
        assert resp.headers["X-RateLimit-Remaining"] == str(remaining)
        assert "Retry-After" not in resp.headers
    resp = await bad_login(client)
    assert resp.status == 429
    body = await resp.json()
    assert body["success"] is False
    assert body["error"]["code"] == "RATE_LIMITED"
    assert body["error"]["details"]["policy"] == "auth"
    assert 1 <= int(resp.headers["Retry-After"]) <= 20
    assert resp.headers["X-RateLimit-Remaining"] == "0"
    # Full again 60 s after the first spend (a token every 20 s), less what has passed since;
    # the bound comes from the clock, so a slow machine cannot fail it.
    elapsed = math.ceil(time.monotonic() - started)
    assert 60 - elapsed <= int(resp.headers["X-RateLimit-Reset"]) <= 60
    # The versioned path is the same endpoint and the same budget.
    assert (await client.post("/api/v1/auth/register", json={})).status == 429


async def test_refused_request_spends_no_other_budget(aiohttp_client: Any, engines: Any) -> None:
    client = await limited_client(
        aiohttp_client, engines, RATE_LIMIT_AUTH="2/hour", RATE_LIMIT_GENERAL="10/hour"
    )
    statuses = [(await bad_login(client)).status for _ in range(5)]
    assert statuses == [401, 401, 429, 429, 429]
    # Logout spends only the general budget (per IP): 2 logins went through, this is the 3rd.
    resp = await client.post("/api/auth/logout", json={"refresh_token": "x"})
    assert resp.status == 200
    assert resp.headers["X-RateLimit-Limit"] == "10"
    assert resp.headers["X-RateLimit-Remaining"] == "7"


async def test_upload_budget_is_spent_only_by_videos_made(
    aiohttp_client: Any, engines: Any
) -> None:
    """CLUTCH's 5 uploads an hour count uploads: an invalid body is a 400 (not a 429 once the
    budget is gone) and spends nothing, nor does a caller who may not publish."""
    client = await limited_client(aiohttp_client, engines, RATE_LIMIT_UPLOADS="2/hour")
    _, creator = await make_user(client, role="creator")
    _, viewer = await make_user(client)
    invalid = [{}, {"title": ""}, {"title": "x" * 101}, {"title": "ok", "size": 1}, {"title": 5}]
    for body in invalid * 2:
        resp = await client.post("/api/videos", json=body, headers=creator)
        assert resp.status == 400, await resp.text()
    for _ in range(3):
        resp = await client.post("/api/videos", json={"title": "mine"}, headers=viewer)
        assert resp.status == 403, await resp.text()
    statuses = []
    for _ in range(3):
        resp = await client.post("/api/videos", json={"title": "real"}, headers=creator)
        statuses.append(resp.status)
    assert statuses == [201, 201, 429]
    assert resp.headers["X-RateLimit-Limit"] == "2"
    assert (await resp.json())["error"]["details"]["policy"] == "uploads"
    # Once spent, an invalid body is still told what is wrong with it.
    resp = await client.post("/api/videos", json={"title": ""}, headers=creator)
    assert resp.status == 400


async def test_general_budget_is_per_user(aiohttp_client: Any, engines: Any) -> None:
    client = await limited_client(aiohttp_client, engines, RATE_LIMIT_GENERAL="3/hour")
    tokens = []
    for name in ("alice_rl", "bob_rl"):
        resp = await client.post(
            "/api/auth/register",
            json={"username": name, "email": f"{name}@example.com", "password": STRONG_PASSWORD},
        )
        assert resp.status == 201  # per IP: the two registrations spent the anonymous budget
        tokens.append({"Authorization": f"Bearer {(await resp.json())['tokens']['access_token']}"})
    alice, bob = tokens
    assert [(await client.get("/api/auth/me", headers=alice)).status for _ in range(4)] == [
        200,
        200,
        200,
        429,
    ]
    assert (await client.get("/api/auth/me", headers=bob)).status == 200
    assert (await client.post("/api/auth/logout", json={"refresh_token": "x"})).status == 200
    assert (await client.post("/api/auth/logout", json={"refresh_token": "x"})).status == 429


async def test_bad_tokens_spend_the_ip_budget(aiohttp_client: Any, engines: Any) -> None:
    client = await limited_client(aiohttp_client, engines, RATE_LIMIT_GENERAL="2/hour")
    bad = {"Authorization": "Bearer not-a-token"}
    statuses = [(await client.get("/api/auth/me", headers=bad)).status for _ in range(3)]
    assert statuses == [401, 401, 429]


async def test_forwarded_for_only_from_trusted_proxies(aiohttp_client: Any, engines: Any) -> None:
    trusting = await limited_client(
        aiohttp_client, engines, RATE_LIMIT_AUTH="1/hour", TRUSTED_PROXIES="127.0.0.1"
    )
    for client_address in ("198.51.100.1", "198.51.100.2"):
        resp = await bad_login(trusting, headers={"X-Forwarded-For": client_address})
        assert resp.status == 401, "each forwarded client has a budget of its own"
    resp = await bad_login(trusting, headers={"X-Forwarded-For": "198.51.100.1"})
    assert resp.status == 429

    distrusting = await limited_client(aiohttp_client, engines, RATE_LIMIT_AUTH="1/hour")
    first = await bad_login(distrusting, headers={"X-Forwarded-For": "198.51.100.3"})
    second = await bad_login(distrusting, headers={"X-Forwarded-For": "198.51.100.4"})
    assert (first.status, second.status) == (401, 429), "a forged header buys no budget"


async def test_two_nodes_share_one_budget(aiohttp_client: Any, engines: Any) -> None:
    env = {"RATE_LIMIT_AUTH": "4/hour"}
    node1 = await limited_client(aiohttp_client, engines, **env)
    node2 = await limited_client(aiohttp_client, engines, **env)
    statuses = [(await bad_login(node)).status for node in (node1, node2) * 3]
    assert statuses == [401, 401, 401, 401, 429, 429]


async def test_concurrent_requests_get_exactly_the_budget(
    aiohttp_client: Any, engines: Any
) -> None:
    env = {"RATE_LIMIT_AUTH": "7/hour"}
    nodes = [await limited_client(aiohttp_client, engines, **env) for _ in range(2)]
    responses = await asyncio.gather(*(bad_login(nodes[i % 2]) for i in range(40)))
    statuses = sorted(resp.status for resp in responses)
    assert statuses.count(401) == 7
    assert statuses.count(429) == 33


async def test_disabled_sends_no_headers(client: Any) -> None:
    resp = await bad_login(client)
    assert resp.status == 401
    assert "X-RateLimit-Limit" not in resp.headers


async def test_redis_failure_lets_requests_through(aiohttp_client: Any, engines: Any) -> None:
    client = await limited_client(aiohttp_client, engines, RATE_LIMIT_AUTH="1/hour")

    async def broken(*_: Any, **__: Any) -> Any:
        raise RedisConnectionError("redis is down")

    client.app[RATE_LIMITER].hit = broken
    assert [(await bad_login(client)).status for _ in range(3)] == [401, 401, 401]


async def test_unknown_policy_fails_at_start(engines: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from server import app as app_module

    router = Router("typo")

    @router.get("/api/typo", limit="like")
    async def typo(request: Any) -> dict[str, str]:
        return {}

    monkeypatch.setattr(app_module, "ROUTERS", [*app_module.ROUTERS, router])
    with pytest.raises(ValueError, match="unknown rate limit 'like'"):
        create_app(make_settings(engines))


async def test_forwarded_for_over_several_field_lines_is_read_whole(
    aiohttp_client: Any, engines: Any
) -> None:
    """A trusted proxy that appends its own X-Forwarded-For line (HAProxy does) leaves the
    client's forged line first; every line is read, so the forged address is not believed."""
    app = create_app(
        make_settings(
            engines,
            RATE_LIMIT_ENABLED=True,
            RATE_LIMIT_AUTH="2/minute",
            TRUSTED_PROXIES="127.0.0.1",
        )
    )
    client = await aiohttp_client(app)
    # Control: the same proxy writing one combined line is handled right (429 on the 3rd).
    control = []
    for i in range(3):
        combined = {"X-Forwarded-For": f"198.51.100.{i + 1}, 203.0.113.8"}
        resp = await client.post(
            "/api/auth/login", json={"login": "nobody", "password": "wrong"}, headers=combined
        )
        control.append(resp.status)
    assert control == [401, 401, 429], control
    statuses = []
    for i in range(4):
        # The client sent its own X-Forwarded-For; the proxy (127.0.0.1) appended the real one.
        headers = [("X-Forwarded-For", f"198.51.100.{i + 1}"), ("X-Forwarded-For", "203.0.113.7")]
        resp = await client.post(
            "/api/auth/login", json={"login": "nobody", "password": "wrong"}, headers=headers
        )
        statuses.append(resp.status)
    assert statuses[2:] == [429, 429], (
        f"one real client (203.0.113.7) made 4 logins under a 2/minute budget: {statuses}"
    )
