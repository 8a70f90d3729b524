"""Presence: how many sockets are subscribed to a channel across every node.

Each node keeps its local counts (fed by the hub) and writes them to a Redis hash per channel,
`presence:{channel}`, one field per node holding `<count>:<expires_at_ms>`. A heartbeat
rewrites every local entry each `heartbeat_s`; readers ignore (and delete) entries past their
expiry, so a node that dies without cleaning up stops counting within `ttl_s`. Expiry uses the
Redis server clock (TIME) on both sides, so node clocks need not agree.

Failure policy: presence is a display figure. When Redis cannot answer (down, loading, past
the client's deadline), `count` answers this node's own count and `claim_change` answers
False (no push), both logged, so a request that changed something still succeeds.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from channels.redis_client import command_client

log = logging.getLogger("streamhub.channels.presence")

_WRITE = """
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local count = tonumber(ARGV[i + 2])
  if count > 0 then
    redis.call('HSET', key, ARGV[2], count .. ':' .. (now + ttl))
    redis.call('PEXPIRE', key, ttl)
  else
    redis.call('HDEL', key, ARGV[2])
  end
end
return #KEYS
"""

_COUNT = """
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local entries = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #entries, 2 do
  local count, expires = string.match(entries[i + 1], '(%d+):(%d+)')
  if count and tonumber(expires) > now then
    total = total + tonumber(count)
  else
    redis.call('HDEL', KEYS[1], entries[i])
  end
end
return total
"""


# A viewer count is pushed only if it differs from the last one pushed and no push of that
# channel happened within the interval, whichever node tried: both checks are one script.
_CLAIM = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return 0 end
if tonumber(ARGV[2]) > 0 and not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
"""
PUSHED_TTL_MS = 3_600_000  # forgetting a quiet channel's last push costs one extra push


def presence_key(channel: str) -> str:
    return f"presence:{channel}"


def pushed_key(channel: str) -> str:
    return f"presence_pushed:{channel}"


class Presence(abc.ABC):
    """Counts subscribed sockets per channel. `changed` is called by the hub, synchronously."""

    def __init__(self) -> None:
        self._local: dict[str, int] = {}

    def changed(self, channel: str, count: int) -> None:
        if count > 0:
            self._local[channel] = count
        else:
            self._local.pop(channel, None)

    @abc.abstractmethod
    async def count(self, channel: str) -> int:
        """Sockets subscribed to `channel` on every live node."""

    @abc.abstractmethod
    async def claim_change(self, channel: str, count: int, interval_s: float) -> bool:
        """Whether to push `count` now: True at most once per `interval_s` per channel across
        all nodes, and only if `count` differs from the last count claimed (or recorded)."""

    async def start(self) -> None:  # noqa: B027 - optional hook
        pass

    async def close(self) -> None:  # noqa: B027 - optional hook
        pass


class MemoryPresence(Presence):
    """Single node: the local count is the whole count. Memory: one entry per channel pushed."""

    def __init__(self) -> None:
        super().__init__()
        self._pushed: dict[str, tuple[int, float]] = {}  # channel -> (count, when)

    def changed(self, channel: str, count: int) -> None:
        super().changed(channel, count)
        if count == 0:
            self._pushed.pop(channel, None)

    async def count(self, channel: str) -> int:
        return self._local.get(channel, 0)

    async def claim_change(self, channel: str, count: int, interval_s: float) -> bool:
        now = time.monotonic()
        last = self._pushed.get(channel)
        if last is not None and (last[0] == count or now - last[1] < interval_s):
            return False
        self._pushed[channel] = (count, now)
        return True


class RedisPresence(Presence):
    """Many nodes. Changes reach Redis within `flush_s`; a dead node's entries within `ttl_s`."""

    def __init__(
        self,
        url: str,
        *,
        node_id: str,
        heartbeat_s: float,
        ttl_s: float,
        flush_s: float = 0.25,
        timeout_s: float | None = None,
    ) -> None:
        super().__init__()
        self.node_id = node_id
        self._url = url
        self._timeout_s = timeout_s
        self._heartbeat_s = heartbeat_s
        self._ttl_ms = int(ttl_s * 1000)
        self._flush_s = min(flush_s, heartbeat_s)
        self._dirty: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._redis: Redis | None = None

    def changed(self, channel: str, count: int) -> None:
        super().changed(channel, count)
        self._dirty[channel] = count

    async def start(self) -> None:
        self._redis = command_client(self._url, timeout_s=self._timeout_s)
        self._write = self._redis.register_script(_WRITE)
        self._count = self._redis.register_script(_COUNT)
        self._claim = self._redis.register_script(_CLAIM)
        self._task = asyncio.create_task(self._loop(), name="presence-heartbeat")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._redis is not None:
            try:  # leave presence at once instead of waiting for the TTL
                await self._flush({channel: 0 for channel in self._local})
            except Exception as exc:
                log.warning("presence cleanup failed", extra={"error": repr(exc)})
            await self._redis.aclose()

    async def count(self, channel: str) -> int:
        try:
            await self._flush_dirty()  # this node's latest count is part of the answer
            return int(await self._count(keys=[presence_key(channel)]))
        except (RedisError, OSError) as exc:
            log.warning("presence unknown: this node's count", extra={"error": repr(exc)})
            return self._local.get(channel, 0)

    async def claim_change(self, channel: str, count: int, interval_s: float) -> bool:
        keys = [pushed_key(channel), f"{pushed_key(channel)}:gate"]
        args = [count, int(interval_s * 1000), PUSHED_TTL_MS]
        try:
            return bool(await self._claim(keys=keys, args=args))
        except (RedisError, OSError) as exc:
            log.warning("viewer count not claimed", extra={"error": repr(exc)})
            return False

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_beat = loop.time()
        while True:
            try:
                if loop.time() >= next_beat:
                    next_beat = loop.time() + self._heartbeat_s
                    self._dirty.clear()
                    await self._flush(dict(self._local))
                else:
                    await self._flush_dirty()
            except Exception as exc:  # Redis down: retry on the next tick, entries may expire
                log.warning("presence write failed", extra={"error": repr(exc)})
            await asyncio.sleep(self._flush_s)

    async def _flush_dirty(self) -> None:
        dirty, self._dirty = self._dirty, {}
        await self._flush(dirty)

    async def _flush(self, counts: dict[str, int]) -> None:
        items = list(counts.items())
        for start in range(0, len(items), 500):  # bounded script size
            chunk = items[start : start + 500]
            await self._write(
                keys=[presence_key(channel) for channel, _ in chunk],
                args=[self._ttl_ms, self.node_id, *[count for _, count in chunk]],
            )
