"""WebSocket limits: frames per second per connection, connections per key across nodes.

`MessageRate` is local to one connection and needs no I/O. `ConnectionSlots` is shared: each
open socket holds a lease in a Redis sorted set per key, a user id or (for anonymous sockets,
under another prefix) a client address (member = connection id, score = the lease's expiry).
The node renews all its leases in one task. If a node dies, its leases expire after `lease_s`
and the slots come back, so no counter drifts for ever.

Failure policy: if Redis is unreachable, `acquire` admits the connection and logs. A user
may then briefly hold more sockets than allowed; refusing every socket because Redis blinked
would be worse. The frame rate needs no Redis and is always enforced.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from channels.redis_client import command_client

log = logging.getLogger("streamhub.channels.limits")


class MessageRate:
    """Token bucket: `rate` frames a second, bursts up to `burst` (default: one second's worth).

    Memory: three floats per connection.
    """

    __slots__ = ("_burst", "_clock", "_rate", "_stamp", "_tokens")

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = rate
        self._burst = burst if burst is not None else max(1.0, rate)
        self._clock = clock
        self._tokens = self._burst
        self._stamp = clock()

    def allow(self) -> bool:
        """Spend one token; False when the client sends faster than allowed."""
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


# KEYS[1]: the user's set. ARGV: connection id, lease ms, limit. 1 = admitted, 0 = full.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and
   redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
redis.call('PEXPIRE', KEYS[1], lease * 2)
return 1
"""

# KEYS[1]: the user's set. ARGV: lease ms, then connection ids whose leases this node holds.
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[1])
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], now + lease, ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], lease * 2)
return #ARGV - 1
"""


class ConnectionSlots:
    """At most `limit` simultaneous WebSockets per user across every node sharing Redis.

    Usage in the /ws handler, after authentication:
        if not await slots.acquire(user_id, conn_id): close with 4029 (too many connections)
        try: ... serve the socket ...
        finally: await slots.release(user_id, conn_id)
    Call `start()` once per node (renews leases every lease_s / 3) and `stop()` at shutdown.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        limit: int,
        lease_s: float = 60.0,
        prefix: str = "streamhub:ws",
        deadline_s: float = 0.5,
    ) -> None:
        self.limit = limit
        # A hung Redis must not hold a WebSocket handshake: past this, the socket is admitted.
        self._deadline_s = deadline_s
        self._redis = redis
        self._lease_ms = int(lease_s * 1000)
        self._prefix = prefix
        self._held: dict[str, set[str]] = {}
        self._acquire: Any = redis.register_script(_ACQUIRE)
        self._renew: Any = redis.register_script(_RENEW)
        self._task: asyncio.Task[None] | None = None
        self._owns_client = False

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        limit: int,
        lease_s: float = 60.0,
        prefix: str = "streamhub:ws",
        timeout_s: float | None = None,
    ) -> ConnectionSlots:
        """Slots on a Redis client of their own (commands within `timeout_s`), closed by
        `stop()`."""
        client = command_client(url, timeout_s=timeout_s)
        slots = cls(client, limit=limit, lease_s=lease_s, prefix=prefix)
        slots._owns_client = True
        return slots

    def key(self, user_id: str) -> str:
        return f"{self._prefix}:conns:{{{user_id}}}"

    async def acquire(self, user_id: str, connection_id: str) -> bool:
        try:
            async with asyncio.timeout(self._deadline_s):
                admitted = await self._acquire(
                    keys=[self.key(user_id)], args=[connection_id, self._lease_ms, self.limit]
                )
        except (RedisError, OSError) as exc:  # TimeoutError is an OSError
            log.warning("connection limit skipped: redis unavailable", extra={"error": repr(exc)})
            admitted = 1
        if admitted:
            self._held.setdefault(user_id, set()).add(connection_id)
        return bool(admitted)

    async def release(self, user_id: str, connection_id: str) -> None:
        held = self._held.get(user_id)
        if held is not None:
            held.discard(connection_id)
            if not held:
                del self._held[user_id]
        try:
            async with asyncio.timeout(self._deadline_s):
                await self._redis.zrem(self.key(user_id), connection_id)
        except (RedisError, OSError) as exc:  # the lease expires on its own
            log.warning("could not release a connection slot", extra={"error": repr(exc)})

    def held(self, user_id: str) -> int:
        return len(self._held.get(user_id, ()))

    async def renew(self) -> None:
        """Push every lease this node holds lease_s into the future (one round trip)."""
        if not self._held:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id, conns in list(self._held.items()):
                await self._renew(
                    keys=[self.key(user_id)], args=[self._lease_ms, *conns], client=pipe
                )
            await pipe.execute()

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self._lease_ms / 3000)
            try:
                async with asyncio.timeout(self._lease_ms / 3000):
                    await self.renew()
            except (RedisError, OSError) as exc:
                log.warning("could not renew connection slots", extra={"error": repr(exc)})

    async def start(self) -> None:
        self._task = asyncio.create_task(self._renew_forever(), name="ws-slot-renewal")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._owns_client:
            await self._redis.aclose()
