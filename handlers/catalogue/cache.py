"""The catalogue's cache in Redis, shared by every node: fresh for its kind's TTL, kept longer
to be served stale when the provider is down, and filled once per key across the cluster.

Entries: `{prefix}:{kind}:{key}` holds `fetched_at` (the cache's clock, seconds) and the
encoded value; Redis keeps it for TTL + `stale_keep_s`. Freshness is judged by the cache's
`clock`, not by Redis' expiry, so tests move time without sleeping.

Coalescing guarantee: for one key, at most one fetch runs in the whole cluster at a time (a
`SET NX PX` lock per key; the holder writes the entry, then releases). In one process, callers
of a key share one task; across processes, callers without the lock poll the entry every
`poll_s` until it is written, the holder reports a failure (an error marker for
`error_keep_s`), the lock lapses (then one of them fetches) or `wait_s` runs out (503).
A caller that has a stale entry does not wait: it is answered the stale entry at once.

Local copies: a node keeps fresh entries it read in memory for `local_ttl_s` (at most
`local_max_entries`, oldest dropped first), so a hot title costs no Redis round trip. A copy is
never served past its entry's TTL (on the cache's clock), nor stale; `clear` empties this
node's copies at once, other nodes' within `local_ttl_s`.

Counters (`{prefix}:stats`, a hash): hits, misses, stale serves. Redis reads count in the same
script as the read; hits on local copies are counted here and added at most once a second.
Failure policy: a Redis error propagates (the request answers 503 like any
other request that needs Redis).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from redis.asyncio import Redis

from core.errors import NotFound, ServiceUnavailable
from handlers.catalogue.upstream import UpstreamError, UpstreamNotFound

log = logging.getLogger("streamhub.catalogue.cache")

Kind = Literal["metadata", "streams", "search"]
KINDS: tuple[Kind, ...] = ("metadata", "streams", "search")
State = Literal["hit", "miss", "stale"]

# GET the entry and count a hit (fresh: fetched_at + TTL > now, all on the cache's clock) or
# a miss (absent or expired) in one round trip. ARGV: now, TTL, not-found TTL.
_READ = """
local v = redis.call('GET', KEYS[1])
local outcome = 'misses'
if v then
  local nl = string.find(v, '\\n', 1, true)
  local ttl = tonumber(ARGV[2])
  if #v - nl == 4 and string.sub(v, nl + 1) == '!404' then ttl = tonumber(ARGV[3]) end
  if tonumber(string.sub(v, 1, nl - 1)) + ttl > tonumber(ARGV[1]) then outcome = 'hits' end
end
redis.call('HINCRBY', KEYS[2], outcome, 1)
return v
"""
# Release the lock only if it is still ours (it may have lapsed and been taken).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_NOT_FOUND = b"!404"


@dataclass(frozen=True, slots=True)
class Entry:
    value: bytes  # the encoded value (JSON), served as it is
    fetched_at: float
    expires_at: float
    state: State


Fetch = Callable[[], Awaitable[bytes]]


class CatalogueCache:
    def __init__(
        self,
        redis: Redis,
        *,
        ttls: Mapping[Kind, float],
        stale_keep_s: float = 7 * 86400,
        not_found_ttl_s: float = 600,
        lock_s: float = 15.0,
        wait_s: float = 10.0,
        poll_s: float = 0.02,
        error_keep_s: float = 2.0,
        prefix: str = "catalogue",
        clock: Callable[[], float] = time.time,
        local_ttl_s: float = 0.0,
        local_max_entries: int = 10_000,
    ) -> None:
        self.redis = redis
        self.ttls = dict(ttls)
        self.stale_keep_s = stale_keep_s
        self.not_found_ttl_s = not_found_ttl_s
        self.lock_s, self.wait_s, self.poll_s = lock_s, wait_s, poll_s
        self.error_keep_s = error_keep_s
        self.prefix = prefix
        self.clock = clock
        self.stats_key = f"{prefix}:stats"
        self._read = redis.register_script(_READ)
        self._release = redis.register_script(_RELEASE)
        self._inflight: dict[str, asyncio.Task[Entry]] = {}
        self.local_ttl_s = local_ttl_s
        self.local_max_entries = local_max_entries
        # key -> (monotonic time stored, entry); insertion order is age order.
        self._local: OrderedDict[str, tuple[float, Entry]] = OrderedDict()
        self._local_hits = 0
        self._hits_flushed_at = time.monotonic()
        self._flushing: asyncio.Task[None] | None = None

    def key(self, kind: Kind, key: str) -> str:
        return f"{self.prefix}:{kind}:{key}"

    def _decode(self, kind: Kind, raw: bytes | str | None) -> Entry | None:
        if raw is None:
            return None
        raw = raw.encode() if isinstance(raw, str) else raw
        stamp, _, value = raw.partition(b"\n")
        fetched_at = float(stamp)
        expires = fetched_at + (self.not_found_ttl_s if value == _NOT_FOUND else self.ttls[kind])
        state: State = "hit" if self.clock() < expires else "stale"
        return Entry(value, fetched_at, expires, state)

    async def get(self, kind: Kind, key: str, fetch: Fetch) -> Entry:
        """The entry of `key`: fresh from Redis, or fetched (once in the cluster), or stale when
        the fetch fails. NotFound when the provider said so; ServiceUnavailable when it cannot
        answer and nothing was ever cached."""
        full = self.key(kind, key)
        local = self._local_copy(full)
        if local is not None:
            return _found(local)
        args = [repr(self.clock()), repr(self.ttls[kind]), repr(self.not_found_ttl_s)]
        entry = self._decode(kind, await self._read(keys=[full, self.stats_key], args=args))
        if entry is not None and entry.state == "hit":
            self._keep(full, entry)
            return _found(entry)
        task = self._inflight.get(full)
        if task is None:
            task = asyncio.ensure_future(self._fill(kind, full, fetch, entry))
            self._inflight[full] = task
            task.add_done_callback(lambda _: self._inflight.pop(full, None))
        entry = await asyncio.shield(task)
        if entry.state != "stale":
            self._keep(full, entry)
        return _found(entry)

    def _local_copy(self, full: str) -> Entry | None:
        held = self._local.get(full)
        if held is None:
            return None
        stored_at, entry = held
        if time.monotonic() - stored_at >= self.local_ttl_s or self.clock() >= entry.expires_at:
            del self._local[full]
            return None
        self._local_hits += 1
        if time.monotonic() - self._hits_flushed_at >= 1.0 and self._flushing is None:
            self._flushing = asyncio.ensure_future(self._flush_hits())
        return Entry(entry.value, entry.fetched_at, entry.expires_at, "hit")

    def _keep(self, full: str, entry: Entry) -> None:
        if self.local_ttl_s <= 0:
            return
        self._local[full] = (time.monotonic(), entry)
        self._local.move_to_end(full)
        while len(self._local) > self.local_max_entries:
            self._local.popitem(last=False)

    async def _flush_hits(self) -> None:
        hits, self._local_hits = self._local_hits, 0
        self._hits_flushed_at = time.monotonic()
        try:
            if hits:
                await self.redis.hincrby(self.stats_key, "hits", hits)
        except Exception:  # a lost count must never fail a request; it is logged
            log.warning("catalogue hit count not saved", exc_info=True)
        finally:
            self._flushing = None

    async def refresh(self, kind: Kind, key: str, fetch: Fetch) -> Entry:
        """Fetch and store `key` now, fresh or not (cache warming); the lock still applies."""
        # No stale fallback: a warming run that fails leaves the entry as it was (and says so).
        entry = await self._fill(kind, self.key(kind, key), fetch, None, force=True)
        self._keep(self.key(kind, key), entry)
        return _found(entry)

    async def _fill(
        self, kind: Kind, full: str, fetch: Fetch, stale: Entry | None, *, force: bool = False
    ) -> Entry:
        lock, error_key = f"{full}:lock", f"{full}:error"
        token = uuid.uuid4().hex
        deadline = time.monotonic() + self.wait_s
        while True:
            if await self.redis.set(lock, token, nx=True, px=int(self.lock_s * 1000)):
                try:
                    return await self._fetch_under_lock(kind, full, fetch, stale, force)
                finally:
                    await self._release(keys=[lock], args=[token])
            if stale is not None:
                return await self._serve_stale(stale)  # someone is refreshing it: don't wait
            while time.monotonic() < deadline:
                await asyncio.sleep(self.poll_s)
                found = self._decode(kind, await self.redis.get(full))
                if found is not None and found.state == "hit":
                    return found
                failure = await self.redis.get(error_key)
                if failure is not None:
                    raise _unavailable(_text(failure))
                if not await self.redis.exists(lock):
                    break  # the holder died or gave up without a word: try to take over
            else:
                raise _unavailable("timed out waiting for another node's fetch")

    async def _fetch_under_lock(
        self, kind: Kind, full: str, fetch: Fetch, stale: Entry | None, force: bool
    ) -> Entry:
        if not force:  # another node may have written it between our read and our lock
            found = self._decode(kind, await self.redis.get(full))
            if found is not None and found.state == "hit":
                return found
        try:
            value = await fetch()
        except UpstreamNotFound:
            value = _NOT_FOUND
        except UpstreamError as exc:
            if stale is not None and stale.value != _NOT_FOUND:
                return await self._serve_stale(stale)
            await self.redis.set(f"{full}:error", str(exc), px=int(self.error_keep_s * 1000))
            raise _unavailable(str(exc), exc.retry_after_s) from exc
        now = self.clock()
        keep = self.not_found_ttl_s if value == _NOT_FOUND else self.ttls[kind] + self.stale_keep_s
        await self.redis.set(full, b"%r\n%b" % (now, value), px=int(keep * 1000))
        ttl = self.not_found_ttl_s if value == _NOT_FOUND else self.ttls[kind]
        return Entry(value, now, now + ttl, "miss")

    async def _serve_stale(self, stale: Entry) -> Entry:
        await self.redis.hincrby(self.stats_key, "stale", 1)
        return stale

    async def stats(self) -> dict[str, int]:
        """The cluster's counters (this node's latest local hits included)."""
        if self._flushing is None:
            await self._flush_hits()
        raw = await self.redis.hgetall(self.stats_key)
        return {_text(k): int(v) for k, v in raw.items()}

    async def clear(self, kinds: tuple[Kind, ...] = KINDS) -> int:
        """Delete every entry of `kinds` (their locks and error markers too); the count."""
        self._local.clear()
        deleted = 0
        for kind in kinds:
            batch: list[bytes] = []
            async for name in self.redis.scan_iter(match=f"{self.prefix}:{kind}:*", count=500):
                batch.append(name)
                if len(batch) >= 500:
                    deleted += await self.redis.unlink(*batch)
                    batch.clear()
            if batch:
                deleted += await self.redis.unlink(*batch)
        return deleted

    async def count(self, kind: Kind) -> int:
        """Entries of `kind` (a SCAN: for admin stats, not for requests)."""
        n = 0
        async for name in self.redis.scan_iter(match=f"{self.prefix}:{kind}:*", count=1000):
            n += not name.endswith((b":lock", b":error"))
        return n


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _found(entry: Entry) -> Entry:
    if entry.value == _NOT_FOUND:
        raise NotFound("No such title in the catalogue")
    return entry


def _unavailable(reason: str, retry_after_s: float | None = None) -> ServiceUnavailable:
    retry = 5 if retry_after_s is None or retry_after_s == float("inf") else retry_after_s
    return ServiceUnavailable(
        "The catalogue provider is unavailable and this was never cached; try again shortly",
        details={"reason": reason},
        headers={"Retry-After": str(max(1, min(int(retry), 300)))},
    )
