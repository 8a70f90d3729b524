"""WebSocket limits: frame rate per connection, connections per user shared through Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from channels.limits import ConnectionSlots, MessageRate


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_message_rate_allows_a_burst_then_the_rate() -> None:
    clock = FakeClock()
    rate = MessageRate(5, clock=clock)
    assert [rate.allow() for _ in range(6)] == [True] * 5 + [False]
    clock.now += 0.2  # one token back
    assert [rate.allow(), rate.allow()] == [True, False]
    clock.now += 10  # refills to the burst, not beyond
    assert sum(rate.allow() for _ in range(10)) == 5


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
    results = await asyncio.gather(
        *(nodes[i % 2].acquire("u1", f"c{i}") for i in range(20))
    )
    assert sum(results) == 3


async def test_leases_of_a_dead_node_expire_and_live_ones_are_renewed(redis: Redis) -> None:
    dead = ConnectionSlots(redis, limit=1, lease_s=0.2)
    alive = ConnectionSlots(redis, limit=1, lease_s=0.2)
    assert await dead.acquire("u1", "a")
    assert await alive.acquire("u2", "b")
    await alive.start()
    try:
        await asyncio.sleep(0.5)  # "dead" never renews; "alive" renews every ~0.07 s
        assert await alive.acquire("u1", "c"), "the dead node's lease has expired"
        assert not await dead.acquire("u2", "d"), "the live node's lease was renewed"
    finally:
        await alive.stop()


async def test_redis_down_admits(engines: Any) -> None:
    unreachable = Redis.from_url("redis://127.0.0.1:1/0")
    slots = ConnectionSlots(unreachable, limit=1)
    assert await slots.acquire("u1", "a")
    assert await slots.acquire("u1", "b")
    await slots.release("u1", "a")
    await unreachable.aclose()
