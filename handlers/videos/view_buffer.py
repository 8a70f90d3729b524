"""View counting: deduplicated in Redis, buffered in Redis, flushed to Postgres in batches.

The hot path (`ViewBuffer.record`) never touches a video row. One Lua script does the whole
step atomically: `SET seen-key NX EX window` (the same viewer counts once per video per
window), `HINCRBY` on the pending hash, and the sum of this video's buffered views.

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

_RECORD = """
local counted = redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1])
if counted then redis.call('HINCRBY', KEYS[2], ARGV[2], 1) end
if tonumber(ARGV[4]) > 0 then redis.call('HINCRBYFLOAT', KEYS[2], ARGV[3], ARGV[4]) end
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


def viewer_key(*, user_id: str | None, ip: str | None, user_agent: str | None) -> str:
    """Who is watching: the account when signed in, else IP + user agent (hashed, not stored)."""
    raw = f"u:{user_id}" if user_id else f"a:{ip or '-'}\0{user_agent or '-'}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


class ViewBuffer:
    """Deduplicates, buffers and flushes view counts; one per node, sharing Redis state."""

    def __init__(self, redis: Redis, *, dedup_window_seconds: int, prefix: str = "views") -> None:
        self._redis = redis
        self._window = dedup_window_seconds
        self._pending = f"{prefix}:pending"
        self._batches = f"{prefix}:batches"
        self._batch_prefix = f"{prefix}:batch:"
        self._seen_prefix = f"{prefix}:seen:"
        self._record = redis.register_script(_RECORD)
        self._buffered = redis.register_script(_BUFFERED)
        self._start_batch = redis.register_script(_START_BATCH)
        self._last_prune = 0.0

    async def record(
        self, video_id: uuid.UUID, viewer: str, *, watch_seconds: float = 0.0
    ) -> Recorded:
        """Count a view unless this viewer was counted within the window; add watch time.

        Redis unusable: not counted, and nothing buffered is known (see the failure policy)."""
        try:
            counted, buffered = await self._record(
                keys=[f"{self._seen_prefix}{video_id}:{viewer}", self._pending, self._batches],
                args=[self._window, f"v:{video_id}", f"w:{video_id}", repr(float(watch_seconds))],
            )
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
