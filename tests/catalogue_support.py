"""The catalogue's test harness: the local TMDb + Consumet fake, nodes that talk to it, and a
clock the cache reads instead of the time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from devservices.stack import Engines
from handlers.catalogue import routes as catalogue
from server.app import create_app
from tests.conftest import make_settings
from tests.fake_upstreams import API_KEY, FakeUpstreams


@pytest.fixture
async def fake() -> AsyncIterator[FakeUpstreams]:
    server = FakeUpstreams()
    await server.start()
    yield server
    await server.stop()


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def node(aiohttp_client: Any, engines: Engines, fake: FakeUpstreams) -> Callable[..., Any]:
    """Start a node (an app on its own port) talking to the fake; nodes share Redis."""

    async def start(clock: Clock | None = None, **overrides: Any) -> TestClient:
        settings = make_settings(
            engines,
            TMDB_API_KEY=API_KEY,
            TMDB_BASE_URL=fake.url,
            CONSUMET_API_BASE=fake.url,
            UPSTREAM_TIMEOUT_SECONDS=2,
            UPSTREAM_MAX_ATTEMPTS=2,
            UPSTREAM_MAX_RETRY_AFTER_SECONDS=1,
            **overrides,
        )
        client: TestClient = await aiohttp_client(create_app(settings))
        if clock is not None:
            client.app[catalogue.SERVICE].cache.clock = clock
        return client

    return start


async def ok(client: TestClient, path: str, cache: str | None = None) -> dict[str, Any]:
    resp = await client.get(path)
    assert resp.status == 200, await resp.text()
    if cache is not None:
        assert resp.headers["X-Cache"] == cache, path
    body: dict[str, Any] = await resp.json()
    assert body["success"] is True
    return body
