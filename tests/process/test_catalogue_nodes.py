"""The catalogue across two `run.py` processes sharing Redis: 100 concurrent requests for one
uncached title, spread over both nodes, make one call to TMDb (OnStream, issue 11 item 5)."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.conftest import TEST_SECRET
from tests.fake_upstreams import API_KEY, FakeUpstreams
from tests.nodes import node_env, spawn_node, wait_ready

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def fake() -> AsyncIterator[FakeUpstreams]:
    server = FakeUpstreams()
    await server.start()
    yield server
    await server.stop()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


async def test_one_upstream_call_for_100_concurrent_misses_on_two_processes(
    engines: Any, fake: FakeUpstreams
) -> None:
    env = node_env(
        DATABASE_URL=engines.database_url,
        REDIS_URL=engines.redis_url,
        JWT_SECRET_KEY=TEST_SECRET,
        MIGRATE_ON_START="false",
        LOG_LEVEL="WARNING",
        RATE_LIMIT_ENABLED="false",
        WORKER_IN_NODE="false",  # no warming job calling TMDb meanwhile
        TMDB_API_KEY=API_KEY,
        TMDB_BASE_URL=fake.url,
        CONSUMET_API_BASE=fake.url,
    )
    started = [spawn_node(env) for _ in range(2)]
    try:
        # The nodes wait for readiness in threads: the fake answers in this loop meanwhile.
        await asyncio.gather(*(asyncio.to_thread(wait_ready, p, port) for p, port in started))
        fake.delay_s = 0.5  # every request arrives while the one fetch is in flight
        ports = [port for _, port in started]
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:

            async def read(i: int) -> tuple[int, str]:
                url = f"http://127.0.0.1:{ports[i % 2]}/api/movies/tv-6"
                async with http.get(url) as resp:
                    return resp.status, (await resp.json())["movie"]["title"]

            answers = await asyncio.gather(*(read(i) for i in range(100)))
        assert set(answers) == {(200, "Show 6")}
        assert fake.calls["/3/{kind}/{id}"] == 1
    finally:
        for proc, _ in started:
            _stop(proc)
