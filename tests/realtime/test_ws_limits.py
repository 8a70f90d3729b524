"""WebSocket limits: frame rate per connection, connections per user shared through Redis."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets
from redis.asyncio import Redis

from channels.limits import ConnectionSlots
from channels.node import REALTIME
from tests.ws_support import start_hub


@pytest.fixture
async def redis(engines: Any) -> AsyncIterator[Redis]:
    client = Redis.from_url(engines.redis_url)
    yield client
    await client.aclose()


async def test_connections_per_user_across_nodes(redis: Redis) -> None:
    node1 = ConnectionSlots(redis, limit=2)
    node2 = ConnectionSlots(redis, limit=2)
    assert await node1.acquire("u1", "a")
    assert await node2.acquire("u1", "b")
    assert not await node1.acquire("u1", "c"), "third socket of u1, whichever node"
    assert await node2.acquire("u2", "d"), "another user has slots of their own"
    await node1.release("u1", "a")
    assert await node2.acquire("u1", "c")
    assert node2.held("u1") == 2 and node1.held("u1") == 0


async def test_concurrent_connects_get_exactly_the_limit(redis: Redis) -> None:
    nodes = [ConnectionSlots(redis, limit=3) for _ in range(2)]
    results = await asyncio.gather(*(nodes[i % 2].acquire("u1", f"c{i}") for i in range(20)))
    assert sum(results) == 3


async def test_leases_of_a_dead_node_expire_and_live_ones_are_renewed(redis: Redis) -> None:
    dead = ConnectionSlots(redis, limit=1, lease_s=1.0)
    alive = ConnectionSlots(redis, limit=1, lease_s=1.0)
    assert await dead.acquire("u1", "a")
    assert await alive.acquire("u2", "b")
    await alive.start()
    try:
        # "dead" never renews: its lease lapses a second after it was taken, however long
        # that takes here. "alive" renews every third of a second meanwhile.
        async with asyncio.timeout(30):
            while not await alive.acquire("u1", "c"):  # noqa: ASYNC110 - a Redis-side expiry
                await asyncio.sleep(0.05)
        assert await redis.zscore(alive.key("u2"), "b") is not None, "the live lease was renewed"
        assert not await dead.acquire("u2", "d"), "and still counts"
    finally:
        await alive.stop()


def _closed_port() -> int:
    """A loopback port nothing listens on: bound, read, released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_redis_down_admits(engines: Any) -> None:
    unreachable = Redis.from_url(f"redis://127.0.0.1:{_closed_port()}/0")
    slots = ConnectionSlots(unreachable, limit=1)
    try:
        assert await slots.acquire("u1", "a")
        assert await slots.acquire("u1", "b"), "over the limit, but nothing can count: admitted"
        await slots.release("u1", "a")
        assert slots.held("u1") == 1
    finally:
        await unreachable.aclose()


async def test_hung_redis_admits_within_the_deadline(engines: Any) -> None:
    """A Redis that accepts and never answers (a paused process) must not hold a handshake."""
    held: list[asyncio.StreamWriter] = []

    async def never_answer(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    hung = Redis.from_url(f"redis://127.0.0.1:{port}/0")
    slots = ConnectionSlots(hung, limit=1, deadline_s=0.2)
    try:
        # The bound is the test's own timeout, far above the deadline: no wall-clock assertion.
        async with asyncio.timeout(30):
            assert await slots.acquire("u1", "a")
            await slots.release("u1", "a")
        assert held, "the client did reach the hung server"
    finally:
        for writer in held:
            writer.close()
        server.close()
        await hung.aclose()


# --- over a real /ws -------------------------------------------------------------------------


async def _user(hub: Any, name: str) -> tuple[str, str]:
    account = await hub.accounts.register(name)
    return account["user"]["id"], account["tokens"]["access_token"]


async def test_frames_past_the_rate_are_dropped_and_told_once(
    aiohttp_client: Any, engines: Any
) -> None:
    async for hub in start_hub(aiohttp_client, engines, "memory", WS_MAX_MESSAGES_PER_SECOND=5):
        _, token = await _user(hub, "rate_user")
        client = await hub.connect(token=token)
        for n in range(20):
            await client.send({"type": "ping", "id": n})
        replies = []
        with contextlib.suppress(TimeoutError):
            while len(replies) < 20:
                replies.append(await client.recv(1.0))
        pongs = [r for r in replies if r["type"] == "pong"]
        errors = [r for r in replies if r["type"] == "error"]
        assert 5 <= len(pongs) <= 6  # the burst, plus at most one refilled token
        assert [e["code"] for e in errors] == ["rate_limited"], "told once per run of drops"
        stats = hub.app[REALTIME].hub.stats
        assert stats.rejected_messages == 20 - len(pongs)
        await client.close()


async def test_binary_frames_count_against_the_message_rate(
    aiohttp_client: Any, engines: Any
) -> None:
    async for hub in start_hub(aiohttp_client, engines, "memory", WS_MAX_MESSAGES_PER_SECOND=5):
        client = await hub.connect()
        for _ in range(20):
            await client.send(b"\x00binary")
        replies = []
        with contextlib.suppress(TimeoutError):
            while len(replies) < 20:
                replies.append(await client.recv(1.0))
        codes = [r["code"] for r in replies]
        refused = codes.count("invalid_message")
        assert 5 <= refused <= 6, "a binary frame is answered only within the rate"
        assert codes.count("rate_limited") == 1, "told once per run of drops"
        assert hub.app[REALTIME].hub.stats.rejected_messages == 20 - refused
        await client.close()


async def test_connections_per_user_are_limited_across_nodes(
    aiohttp_client: Any, engines: Any
) -> None:
    env = {"WS_MAX_CONNECTIONS_PER_USER": 2}
    async for node1 in start_hub(aiohttp_client, engines, "redis", **env):
        async for node2 in start_hub(aiohttp_client, engines, "redis", **env):
            _, token = await _user(node1, "many_sockets")
            first = await node1.connect(token=token)
            second = await node2.connect(token=token)
            assert first.hello["type"] == second.hello["type"] == "connected"
            await _refused(node1.connect(token=token), "At most 2 connections per user")
            stats = node1.app[REALTIME].hub.stats
            assert stats.rejected_connections == 1

            anonymous = await node2.connect()  # not counted until it signs in
            await anonymous.send({"type": "auth", "token": token, "id": 1})
            assert (await anonymous.recv())["type"] == "authenticated"
            with pytest.raises(websockets.ConnectionClosed):
                await anonymous.recv_type("pong", seconds=2)

            await first.close()
            await asyncio.sleep(0.2)  # the slot is released when the server sees the close
            again = await node2.connect(token=token)
            assert again.hello["type"] == "connected"
            await again.close()
            await second.close()


async def _refused(connecting: Any, message: str) -> None:
    """The handshake succeeds, then the server sends `error` and closes with 4029."""
    rejected = await connecting  # the error arrives before the close, so this reads it
    assert rejected.hello == {"type": "error", "code": "too_many_connections", "message": message}
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await rejected.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4029


async def _wait_for_leases(redis: Redis, key: str, count: int) -> None:
    """The server releases a slot when it sees the close: wait (bounded) until it has."""
    async with asyncio.timeout(5):
        while await redis.zcard(key) != count:  # noqa: ASYNC110 - polling another server
            await asyncio.sleep(0.02)


async def test_anonymous_connections_per_ip_are_limited_across_nodes(
    aiohttp_client: Any, engines: Any, redis: Redis
) -> None:
    env = {"WS_MAX_ANONYMOUS_CONNECTIONS_PER_IP": 2, "WS_MAX_CONNECTIONS_PER_USER": 5}
    async for node1 in start_hub(aiohttp_client, engines, "redis", **env):
        async for node2 in start_hub(aiohttp_client, engines, "redis", **env):
            first = await node1.connect()
            second = await node2.connect()
            message = "At most 2 connections per address for anonymous sockets"
            await _refused(node1.connect(), message)
            assert node1.app[REALTIME].hub.stats.rejected_connections == 1

            _, token = await _user(node1, "signed_in_same_ip")
            signed_in = await node1.connect(token=token)  # counted per user, not per address
            assert signed_in.hello["type"] == "connected"

            # An anonymous socket that signs in stops counting against its address.
            await first.send({"type": "auth", "token": token, "id": 1})
            assert (await first.recv())["type"] == "authenticated"
            key = node1.app[REALTIME].slots.per_anonymous_ip.key("127.0.0.1")
            await _wait_for_leases(redis, key, 1)
            third = await node2.connect()
            assert third.hello["type"] == "connected"
            await _refused(node2.connect(), message)

            await second.close()
            await _wait_for_leases(redis, key, 1)
            fourth = await node1.connect()
            assert fourth.hello["type"] == "connected"
            for ws in (first, signed_in, third, fourth):
                await ws.close()


async def test_anonymous_limit_uses_the_client_ip_behind_a_trusted_proxy(
    aiohttp_client: Any, engines: Any
) -> None:
    env = {"WS_MAX_ANONYMOUS_CONNECTIONS_PER_IP": 1, "TRUSTED_PROXIES": "127.0.0.1"}
    async for hub in start_hub(aiohttp_client, engines, "memory", **env):
        # BROKER=memory still counts sockets in Redis (REDIS_URL is set).
        one = await hub.connect(headers={"X-Forwarded-For": "198.51.100.1"})
        other = await hub.connect(headers={"X-Forwarded-For": "198.51.100.2"})
        assert one.hello["type"] == other.hello["type"] == "connected"
        message = "At most 1 connections per address for anonymous sockets"
        await _refused(hub.connect(headers={"X-Forwarded-For": "198.51.100.1"}), message)
        await one.close()
        await other.close()
