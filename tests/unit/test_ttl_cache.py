"""core.ttl_cache: expiry, the clear() barrier, single-flight loads and the size budget.

Time is a fake clock moved by hand; nothing here depends on the wall clock.
"""

from __future__ import annotations

import asyncio

import pytest

from core.ttl_cache import TtlCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Loader:
    """Counts loads and answers "<key>#<n>"; can be held open with `gate`."""

    def __init__(self) -> None:
        self.calls = 0
        self.gate: asyncio.Event | None = None
        self.started = asyncio.Event()  # a load is running (and held by `gate`, if set)

    def __call__(self, key: str):  # type: ignore[no-untyped-def]
        async def load() -> str:
            self.calls += 1
            n = self.calls
            self.started.set()
            if self.gate is not None:
                await self.gate.wait()
            return f"{key}#{n}"

        return load


def make(clock: Clock, *, ttl: float = 5.0, budget: int = 1000) -> TtlCache[str, str]:
    return TtlCache(ttl_seconds=ttl, max_weight=budget, weigh=len, clock=clock)


async def test_serves_within_the_ttl_and_reloads_after() -> None:
    clock, load = Clock(), Loader()
    cache = make(clock)
    assert await cache.get_or_load("a", load("a")) == "a#1"
    clock.now += 4.9
    assert await cache.get_or_load("a", load("a")) == "a#1"
    clock.now += 0.2
    assert await cache.get_or_load("a", load("a")) == "a#2"
    assert (cache.hits, cache.misses) == (1, 2)


async def test_off_when_ttl_is_zero() -> None:
    clock, load = Clock(), Loader()
    cache = make(clock, ttl=0)
    assert [await cache.get_or_load("a", load("a")) for _ in range(3)] == ["a#1", "a#2", "a#3"]
    assert len(cache) == 0


async def test_concurrent_misses_share_one_load() -> None:
    clock, load = Clock(), Loader()
    load.gate = asyncio.Event()
    cache = make(clock)
    waiters = [asyncio.create_task(cache.get_or_load("a", load("a"))) for _ in range(10)]
    await load.started.wait()
    load.gate.set()
    assert await asyncio.gather(*waiters) == ["a#1"] * 10
    assert load.calls == 1


async def test_clear_is_a_barrier_even_for_a_running_load() -> None:
    clock, load = Clock(), Loader()
    load.gate = asyncio.Event()
    cache = make(clock)
    before = asyncio.create_task(cache.get_or_load("a", load("a")))
    await load.started.wait()
    cache.clear()  # e.g. a video was written while the old page was being read
    load.gate.set()
    assert await before == "a#1"  # its caller still gets an answer...
    assert await cache.get_or_load("a", load("a")) == "a#2"  # ...but it was not kept


async def test_a_failed_load_is_not_cached() -> None:
    clock = Clock()
    cache = make(clock)

    async def boom() -> str:
        raise RuntimeError("database down")

    with pytest.raises(RuntimeError):
        await cache.get_or_load("a", boom)
    assert await cache.get_or_load("a", Loader()("a")) == "a#1"


async def test_a_cancelled_caller_does_not_cancel_the_shared_load() -> None:
    clock, load = Clock(), Loader()
    load.gate = asyncio.Event()
    cache = make(clock)
    first = asyncio.create_task(cache.get_or_load("a", load("a")))
    second = asyncio.create_task(cache.get_or_load("a", load("a")))
    await load.started.wait()
    first.cancel()
    load.gate.set()
    assert await second == "a#1"
    assert first.cancelled()


async def test_the_size_budget_drops_the_oldest_first() -> None:
    clock, load = Clock(), Loader()
    cache = make(clock, budget=8)  # values weigh len("k#n") == 3
    for key in ("a", "b"):
        await cache.get_or_load(key, load(key))
    await cache.get_or_load("c", load("c"))  # 9 > 8: "a" goes
    assert len(cache) == 2
    assert await cache.get_or_load("b", load("b")) == "b#2"  # still cached
    assert await cache.get_or_load("a", load("a")) == "a#4"  # reloaded
    big = make(clock, budget=2)
    await big.get_or_load("a", load("a"))
    assert len(big) == 0  # heavier than the whole budget: served, never kept
