"""Many nodes: separate `run.py` processes sharing Postgres and Redis.

A change made over REST on one node reaches subscribers on another; a node killed with
SIGKILL costs the other node's subscribers nothing and its viewers leave presence within the
TTL; `run.py --workers N` serves one port with N processes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import asyncpg
import pytest
import websockets

from tests.conftest import STRONG_PASSWORD, TEST_SECRET
from tests.nodes import node_env, spawn_node, wait_ready
from tests.ws_support import WsClient, connect

pytestmark = pytest.mark.timeout(90)

PRESENCE_TTL_S = 1.0


def _env(engines: Any) -> dict[str, str]:
    return node_env(
        DATABASE_URL=engines.database_url,
        REDIS_URL=engines.redis_url,
        JWT_SECRET_KEY=TEST_SECRET,
        MIGRATE_ON_START="false",
        LOG_LEVEL="WARNING",
        RATE_LIMIT_ENABLED="false",
        PRESENCE_HEARTBEAT_SECONDS="0.2",
        PRESENCE_TTL_SECONDS=str(PRESENCE_TTL_S),
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


@pytest.fixture
def nodes(engines: Any) -> Iterator[list[tuple[subprocess.Popen[bytes], int]]]:
    """Two node processes, started together."""
    started = [spawn_node(_env(engines)) for _ in range(2)]
    try:
        for proc, port in started:
            wait_ready(proc, port)
        yield started
    finally:
        for proc, _ in started:
            _stop(proc)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def _register(http: aiohttp.ClientSession, port: int) -> dict[str, Any]:
    name = f"u_{uuid.uuid4().hex[:8]}"
    payload = {"username": name, "email": f"{name}@example.com", "password": STRONG_PASSWORD}
    async with http.post(f"http://127.0.0.1:{port}/api/auth/register", json=payload) as resp:
        assert resp.status == 201, await resp.text()
        body: dict[str, Any] = await resp.json()
    body["headers"] = {"Authorization": f"Bearer {body['tokens']['access_token']}"}
    return body


async def _video(engines: Any, author_id: str) -> str:
    conn = await asyncpg.connect(engines.database_url)
    try:
        video_id = await conn.fetchval(
            """INSERT INTO videos (author_id, title, processing_status, published_at)
               VALUES ($1, 'live clip', 'ready', now()) RETURNING id""",
            uuid.UUID(author_id),
        )
    finally:
        await conn.close()
    return str(video_id)


async def _like(http: aiohttp.ClientSession, port: int, video: str, user: dict[str, Any]) -> None:
    url = f"http://127.0.0.1:{port}/api/videos/{video}/like"
    async with http.post(url, json={"action": "like"}, headers=user["headers"]) as resp:
        assert resp.status == 200, await resp.text()


async def _viewers(http: aiohttp.ClientSession, port: int, video: str, expected: int) -> None:
    url = f"http://127.0.0.1:{port}/api/videos/{video}/live"
    async with asyncio.timeout(PRESENCE_TTL_S * 5 + 3):
        while True:
            async with http.get(url) as resp:
                if (await resp.json())["viewer_count"] == expected:
                    return
            await asyncio.sleep(0.05)


async def _subscribers(port: int, video: str, n: int) -> list[WsClient]:
    clients = []
    for _ in range(n):
        ws = await connect(f"ws://127.0.0.1:{port}/ws")
        assert (await ws.subscribe(f"video:{video}"))["type"] == "subscribed"
        clients.append(ws)
    return clients


async def test_like_on_node_a_reaches_a_subscriber_on_node_b(
    nodes: list[tuple[subprocess.Popen[bytes], int]], http: aiohttp.ClientSession, engines: Any
) -> None:
    (_, port_a), (_, port_b) = nodes
    user = await _register(http, port_a)
    video = await _video(engines, user["user"]["id"])
    [on_b] = await _subscribers(port_b, video, 1)
    await _like(http, port_a, video, user)
    update = await on_b.recv_type("video_update")
    assert update["video_id"] == video and update["data"]["like_count"] == 1
    await on_b.close()


async def test_sigkill_of_a_node_costs_the_other_nothing(
    nodes: list[tuple[subprocess.Popen[bytes], int]], http: aiohttp.ClientSession, engines: Any
) -> None:
    (proc_a, port_a), (_, port_b) = nodes
    user = await _register(http, port_b)
    video = await _video(engines, user["user"]["id"])
    on_a = await _subscribers(port_a, video, 2)
    on_b = await _subscribers(port_b, video, 1)
    await _viewers(http, port_b, video, 3)
    os.kill(proc_a.pid, signal.SIGKILL)
    proc_a.wait(timeout=10)
    for ws in on_a:
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()
    await _like(http, port_b, video, user)
    assert (await on_b[0].recv_type("video_update"))["data"]["like_count"] == 1
    await _viewers(http, port_b, video, 1)  # A's two viewers expire with their TTL
    await on_b[0].close()


async def test_workers_share_one_port(engines: Any, http: aiohttp.ClientSession) -> None:
    # Sockets are anonymous and all from 127.0.0.1: lift the per-address cap (default 20).
    env = {**_env(engines), "WS_MAX_ANONYMOUS_CONNECTIONS_PER_IP": "1000"}
    proc, port = spawn_node(env, "--workers", "2")
    try:
        wait_ready(proc, port)
        user = await _register(http, port)
        video = await _video(engines, user["user"]["id"])
        # The second worker may start listening later on a loaded machine: keep connecting
        # (bounded) until both have answered, rather than assuming both are up already.
        clients: list[WsClient] = []
        async with asyncio.timeout(60):
            while len(clients) < 16 or len({ws.hello["node"] for ws in clients}) < 2:
                clients += await _subscribers(port, video, 1)
        assert len({ws.hello["node"] for ws in clients}) == 2, "both workers accept sockets"
        await _like(http, port, video, user)
        for ws in clients:
            assert (await ws.recv_type("video_update"))["data"]["like_count"] == 1
        for ws in clients:
            await ws.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        _stop(proc)


async def test_workers_die_with_a_killed_supervisor(engines: Any) -> None:
    proc, port = spawn_node(_env(engines), "--workers", "2")
    try:
        wait_ready(proc, port)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        async with asyncio.timeout(20):
            while True:  # the port closes once both children are gone
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                except OSError:
                    break
                writer.close()
                await asyncio.sleep(0.1)
    finally:
        _stop(proc)
