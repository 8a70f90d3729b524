"""A small per-process cache: a time to live, a size budget, and one load per key at a time.

Guarantees:

- A value is served for at most `ttl_seconds` after the load that produced it *started*
  (the clock is read before loading), so a cached answer is never older than the TTL. A load
  that built its value partly from older data (another cache's entry) returns `AsOf(value,
  as_of)`, and the value then expires one TTL after that older time instead.
- `clear()` is a barrier: after it returns, no value loaded before it is served again, even
  one whose load was still running when `clear()` was called.
- Concurrent misses on one key share a single load (no stampede when a hot key expires). A
  load that fails is not cached; every caller waiting on it gets the exception.
- The values held never weigh more than `max_weight` (as measured by `weigh`). The oldest
  entries are dropped first; with one TTL for all, the oldest is also the first to expire.

With `ttl_seconds <= 0` the cache is off: every call loads.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(slots=True)
class _Entry(Generic[V]):
    value: V
    started: float
    expires: float
    weight: int


@dataclass(frozen=True, slots=True)
class AsOf(Generic[V]):
    """A loaded value that reflects the data as it was at `as_of` (on the cache's clock)."""

    value: V
    as_of: float


class TtlCache(Generic[K, V]):
    def __init__(
        self,
        *,
        ttl_seconds: float,
        max_weight: int,
        weigh: Callable[[V], int],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_weight = max_weight
        self._weigh = weigh
        self._clock = clock
        self._entries: OrderedDict[K, _Entry[V]] = OrderedDict()
        self._loading: dict[K, asyncio.Task[tuple[V, float]]] = {}
        self._weight = 0
        self._generation = 0
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.ttl_seconds > 0

    def __len__(self) -> int:
        return len(self._entries)

    async def get_or_load(self, key: K, load: Callable[[], Awaitable[V | AsOf[V]]]) -> V:
        """The cached value of `key`, or the result of `load()` (stored for the TTL)."""
        value, _ = await self.get_timed(key, load)
        return value

    async def get_timed(
        self, key: K, load: Callable[[], Awaitable[V | AsOf[V]]]
    ) -> tuple[V, float]:
        """As `get_or_load`, with the time (on this cache's clock) the value reflects."""
        if not self.enabled:
            started = self._clock()
            result = await load()
            return (result.value, result.as_of) if isinstance(result, AsOf) else (result, started)
        entry = self._entries.get(key)
        if entry is not None:
            if entry.expires > self._clock():
                self.hits += 1
                return entry.value, entry.started
            self._drop(key)
        task = self._loading.get(key)
        if task is None:
            self.misses += 1
            # The generation and the clock are read now, not when the task first runs: a
            # clear() in between must still keep this load's result out.
            task = asyncio.ensure_future(
                self._load(key, load, generation=self._generation, started=self._clock())
            )
            # A load whose callers all went away must not log "exception never retrieved".
            task.add_done_callback(_consume_exception)
            self._loading[key] = task
        # Shielded: a caller that is cancelled (client gone) does not cancel the others' load.
        return await asyncio.shield(task)

    def clear(self) -> None:
        """Forget every value, and every load already running (its result is not stored)."""
        self._entries.clear()
        self._loading = {}
        self._weight = 0
        self._generation += 1

    async def _load(
        self, key: K, load: Callable[[], Awaitable[V | AsOf[V]]], *, generation: int, started: float
    ) -> tuple[V, float]:
        try:
            result = await load()
        finally:
            if self._loading.get(key) is asyncio.current_task():
                del self._loading[key]
        if isinstance(result, AsOf):
            value, started = result.value, min(started, result.as_of)
        else:
            value = result
        if generation == self._generation:
            self._store(key, value, started=started)
        return value, started

    def _store(self, key: K, value: V, *, started: float) -> None:
        weight = self._weigh(value)
        if weight > self.max_weight:
            return
        self._drop(key)
        now = self._clock()
        while self._entries:
            oldest = next(iter(self._entries.values()))
            if self._weight + weight <= self.max_weight and oldest.expires > now:
                break
            _, dropped = self._entries.popitem(last=False)
            self._weight -= dropped.weight
        self._entries[key] = _Entry(value, started, started + self.ttl_seconds, weight)
        self._weight += weight

    def _drop(self, key: K) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._weight -= entry.weight


def _consume_exception(task: asyncio.Task[object]) -> None:
    if not task.cancelled():
        task.exception()
