"""View counting: deduplicated in Redis, buffered in Redis, flushed to Postgres in batches.

The hot path (`ViewBuffer.record`) never touches a video row. One Lua script does the whole
step atomically: the seen-key (the same viewer counts once per video per window), the
anonymous network's budget, `HINCRBY` on the pending hash, and the sum of this video's
buffered views.

Who is a viewer (`viewer_identity`): a signed-in viewer is their account. An anonymous viewer
is their network: the IPv4 address, or the IPv6 /64 (one subscriber's allocation, whose
addresses are theirs to rotate). Headers the client writes (User-Agent, cookies) are not
used: a client that sends 20 user agents is still one viewer. An anonymous network also
counts at most `anonymous_views_per_ip` views per window across all videos, so one address
cannot walk the catalogue raising every count and the trending order; views past that answer
the current count without adding to it. Viewers behind one NAT count once per video per
window unless they sign in.

Flushing (`ViewBuffer.flush`, the periodic job `views.flush` of handlers/videos/jobs.py, run
every VIEW_FLUSH_INTERVAL_SECONDS by one worker of the cluster):

1. `RENAME` the pending hash to a batch key of its own and add that key to the batch set, in
   one script: new views go to a fresh pending hash while the batch is applied.
2. Apply the batch to Postgres in one transaction that also records the batch id
   (`storage.videos.videos.apply_views`), so a batch is applied at most once.
3. Delete the batch key and take it off the set.

Failure policy: Redis holds every buffered view until step 3, so a node that dies at any
point loses nothing. A batch left behind (in the set, older than `recover_after`) is retried
by whichever node flushes next; if the dead node had already committed it, the recorded batch
id makes the retry a no-op. Durability is therefore Redis's own (use AOF in production).

The count a viewer is told is the Postgres count plus the buffered views (pending and batches
not yet deleted). Between a batch's commit and its deletion (one Redis round trip) a reader
may see that batch twice; the next read is exact again.

When Redis cannot answer (down, loading its dataset, or past the client's deadline), `record`
and `buffered` do not fail the request: a view is then not counted (counting it without the
deduplication would let anyone inflate counts), and readers are told the Postgres count alone,
which lags by the views still buffered. Both are logged. The flush job, by contrast, fails and
is retried: nothing is lost while Redis is away.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import time
import uuid
from dataclasses import dataclass

import asyncpg
from redis.asyncio import Redis
from redis.exceptions import RedisError

from storage.videos import videos

log = logging.getLogger("streamhub.views")

# Redis down, loading (BusyLoadingError is a ConnectionError), or past the client's deadline
# (redis' TimeoutError, or asyncio's, which is an OSError).
REDIS_UNUSABLE = (RedisError, OSError)

# KEYS: seen-key, pending hash, batch set, and for an anonymous viewer its network's budget
# key. ARGV: window, views field, watch field, watch seconds, and the network's budget.
# A view refused by the budget adds no watch time either.
_RECORD = """
local counted, refused = false, false
if redis.call('EXISTS', KEYS[1]) == 0 then
    if KEYS[4] then
        local used = tonumber(redis.call('GET', KEYS[4]) or '0')
        refused = used >= tonumber(ARGV[5])
        if not refused and redis.call('INCR', KEYS[4]) == 1 then
            redis.call('EXPIRE', KEYS[4], ARGV[1])
        end
    end
    if not refused then
        redis.call('SET', KEYS[1], '1', 'EX', ARGV[1])
        redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
        counted = true
    end
end
if not refused and tonumber(ARGV[4]) > 0 then
    redis.call('HINCRBYFLOAT', KEYS[2], ARGV[3], ARGV[4])
end
local total = tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '0')
for _, batch in ipairs(redis.call('SMEMBERS', KEYS[3])) do
    total = total + tonumber(redis.call('HGET', batch, ARGV[2]) or '0')
end
if counted then return {1, total} end
return {0, total}
"""

_BUFFERED = """
local total = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
for _, batch in ipairs(redis.call('SMEMBERS', KEYS[2])) do
    total = total + tonumber(redis.call('HGET', batch, ARGV[1]) or '0')
end
return total
"""

_START_BATCH = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('SADD', KEYS[3], KEYS[2])
return 1
"""

# How often applied batch ids are pruned from Postgres (they only matter for seconds).
_PRUNE_EVERY_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class Recorded:
    counted: bool
    buffered: int


@dataclass(frozen=True, slots=True)
class ViewerId:
    """A viewer as counted: `key` dedups per video; `network` (anonymous viewers only) is
    what the per-window budget of anonymous views is charged to. Both hashed, never stored
    in clear."""

    key: str
    network: str | None


def viewer_identity(*, user_id: str | None, ip: str | None) -> ViewerId:
    """The account when signed in; else the client's network (IPv4 address, IPv6 /64)."""
    if user_id:
        return ViewerId(_digest(f"u:{user_id}"), None)
    network = _digest(f"a:{_network(ip)}")
    return ViewerId(network, network)


def _network(ip: str | None) -> str:
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return ip or "-"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # ::ffff:a.b.c.d is the IPv4 client a.b.c.d
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


class ViewBuffer:
    """Deduplicates, buffers and flushes view counts; one per node, sharing Redis state."""

    def __init__(
        self,
        redis: Redis,
        *,
        dedup_window_seconds: int,
        anonymous_views_per_ip: int = 100,
        prefix: str = "views",
    ) -> None:
        self._redis = redis
        self._window = dedup_window_seconds
        self._per_network = anonymous_views_per_ip
        self._network_prefix = f"{prefix}:anon:"
        self._pending = f"{prefix}:pending"
        self._batches = f"{prefix}:batches"
        self._batch_prefix = f"{prefix}:batch:"
        self._seen_prefix = f"{prefix}:seen:"
        self._record = redis.register_script(_RECORD)
        self._buffered = redis.register_script(_BUFFERED)
        self._start_batch = redis.register_script(_START_BATCH)
        self._last_prune = 0.0

    async def record(
        self,
        video_id: uuid.UUID,
        viewer: str,
        *,
        watch_seconds: float = 0.0,
        network: str | None = None,
    ) -> Recorded:
        """Count a view unless this viewer was counted within the window, or (anonymous
        viewers, `network` set) their network has used its views of the window; add watch
        time unless the view was refused.

        Redis unusable: not counted, and nothing buffered is known (see the failure policy)."""
        keys = [f"{self._seen_prefix}{video_id}:{viewer}", self._pending, self._batches]
        args: list[str | int] = [
            self._window, f"v:{video_id}", f"w:{video_id}", repr(float(watch_seconds)),
        ]  # fmt: skip
        if network is not None:
            keys.append(f"{self._network_prefix}{network}")
            args.append(self._per_network)
        try:
            counted, buffered = await self._record(keys=keys, args=args)
        except REDIS_UNUSABLE as exc:
            log.warning("view not counted: redis unusable", extra={"error": repr(exc)})
            return Recorded(counted=False, buffered=0)
        return Recorded(counted=bool(counted), buffered=int(buffered))

    async def buffered(self, video_id: uuid.UUID) -> int:
        """Views of this video not yet in Postgres (0 when Redis cannot say: logged)."""
        try:
            total = await self._buffered(
                keys=[self._pending, self._batches], args=[f"v:{video_id}"]
            )
        except REDIS_UNUSABLE as exc:
            log.warning("buffered views unknown: redis unusable", extra={"error": repr(exc)})
            return 0
        return int(total)

    async def start_batch(self) -> str | None:
        """Move the pending hash to a new batch key; None when nothing is pending."""
        key = f"{self._batch_prefix}{int(time.time() * 1000)}:{uuid.uuid4().hex}"
        moved = await self._start_batch(keys=[self._pending, key, self._batches])
        return key if moved else None

    async def stale_batches(self, *, older_than_seconds: float) -> list[str]:
        """Batches some node started over `older_than_seconds` ago and did not finish."""
        cutoff_ms = (time.time() - older_than_seconds) * 1000
        stale = []
        for raw in await self._redis.smembers(self._batches):
            key = raw.decode() if isinstance(raw, bytes) else raw
            started_ms = key.removeprefix(self._batch_prefix).split(":", 1)[0]
            if not started_ms.isdigit() or int(started_ms) <= cutoff_ms:
                stale.append(key)
        return sorted(stale)

    async def apply_batch(self, pool: asyncpg.Pool, key: str) -> bool:
        """Apply one batch to Postgres, then drop it from Redis; False if it was applied before."""
        raw = await self._redis.hgetall(key)
        views: dict[uuid.UUID, int] = {}
        watch: dict[uuid.UUID, float] = {}
        for field, value in raw.items():
            name = field.decode() if isinstance(field, bytes) else field
            kind, _, video = name.partition(":")
            if kind == "v":
                views[uuid.UUID(video)] = int(value)
            elif kind == "w":
                watch[uuid.UUID(video)] = float(value)
        applied = False
        if views or watch:
            applied = await videos.apply_views(pool, batch_id=key, views=views, watch_seconds=watch)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.srem(self._batches, key)
            await pipe.execute()
        return applied

    async def flush(self, pool: asyncpg.Pool, *, recover_after_seconds: float) -> int:
        """Retry stale batches, then flush what is pending; returns batches applied now."""
        applied = 0
        for key in await self.stale_batches(older_than_seconds=recover_after_seconds):
            log.warning("recovering an unfinished view batch", extra={"batch": key})
            applied += await self.apply_batch(pool, key)
        batch = await self.start_batch()
        if batch is not None:
            applied += await self.apply_batch(pool, batch)
        if time.monotonic() - self._last_prune > _PRUNE_EVERY_SECONDS:
            await videos.prune_flush_batches(pool)
            self._last_prune = time.monotonic()
        return applied
