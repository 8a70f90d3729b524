"""The catalogue's rules: what is read from which source, cached under which key and kind
(metadata 24 h, streams 1 h, search 6 h by default: OnStream's "Cache Strategy"), and how the
answers are encoded. Users' own data (favorites, history) lives in handlers/catalogue/library.py
and is never cached.

Every read goes through `CatalogueCache.get` (one upstream call per key across the cluster,
stale entries when the provider fails). Upstream figures (calls, errors, seconds) are counted
per process and added to the cluster's hash in Redis after each fetch.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal

import orjson
from redis.asyncio import Redis

from core.errors import NotFound, ServiceUnavailable
from handlers.catalogue import streams
from handlers.catalogue.cache import KINDS, CatalogueCache, Entry, Kind
from handlers.catalogue.models import BrowseQuery, SearchQuery, StreamQuery, TrendingQuery
from handlers.catalogue.streams import StreamProvider
from handlers.catalogue.titles import Genre, MediaType, Title, TitleRef
from handlers.catalogue.tmdb import MetadataSource, Window
from handlers.catalogue.upstream import Upstream, UpstreamError, UpstreamNotFound

log = logging.getLogger("streamhub.catalogue")

UPSTREAM_KEY = "catalogue:upstream"
# A `TitlePage` as cached (decoded JSON): list answers are built from it without pydantic,
# which costs more than the rest of a cached answer.
StoredPage = dict[str, Any]
MEDIA_TYPES: tuple[MediaType, ...] = ("movie", "tv")
WINDOWS: tuple[Window, ...] = ("day", "week")


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def _dump(value: Any) -> bytes:
    return orjson.dumps(value, default=lambda v: v.model_dump(mode="json"))


class CatalogueService:
    def __init__(
        self,
        *,
        cache: CatalogueCache,
        source: MetadataSource,
        stream_providers: Sequence[StreamProvider],
        upstreams: Sequence[Upstream] = (),
    ) -> None:
        self.cache = cache
        self.source = source
        self.stream_providers = list(stream_providers)
        self.upstreams = list(upstreams)
        self.demo = source.name == "demo"
        self._pending: Counter[str] = Counter()
        for upstream in self.upstreams:
            upstream.on_call = self._count_call

    def describe(self) -> str:
        if self.demo:
            return "demo catalogue (TMDB_API_KEY unset): made-up titles and test streams"
        return "tmdb"

    @property
    def redis(self) -> Redis:
        return self.cache.redis

    async def close(self) -> None:
        await self.source.close()
        for provider in self.stream_providers:
            if provider is not self.source:
                await provider.close()

    # --- upstream figures ---------------------------------------------------------------

    def _count_call(self, provider: str, failed: bool, seconds: float) -> None:
        self._pending[f"{provider}:calls"] += 1
        self._pending[f"{provider}:errors"] += failed
        self._pending[f"{provider}:latency_us"] += int(seconds * 1_000_000)

    async def _flush_counts(self) -> None:
        pending, self._pending = self._pending, Counter()
        if not pending:
            return
        try:
            pipe = self.redis.pipeline(transaction=False)
            for field, n in pending.items():
                pipe.hincrby(UPSTREAM_KEY, field, n)
            await pipe.execute()
        except Exception:  # figures must never fail a fetch; these are lost, and logged
            log.warning("upstream figures not saved", exc_info=True)

    def _fetch(self, read: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[bytes]]:
        async def fetch() -> bytes:
            try:
                return _dump(await read())
            finally:
                await self._flush_counts()

        return fetch

    async def upstream_stats(self) -> dict[str, dict[str, float]]:
        raw = await self.redis.hgetall(UPSTREAM_KEY)
        found: dict[str, dict[str, float]] = {}
        for key, value in raw.items():
            name = key.decode() if isinstance(key, bytes) else key
            provider, _, field = name.partition(":")
            found.setdefault(provider, {})[field] = int(value)
        for figures in found.values():
            calls = figures.pop("calls", 0)
            latency = figures.pop("latency_us", 0)
            figures["calls"] = calls
            figures.setdefault("errors", 0)
            figures["mean_latency_ms"] = round(latency / calls / 1000, 2) if calls else 0.0
        return found

    # --- reads --------------------------------------------------------------------------

    async def _get(self, kind: Kind, key: str, read: Callable[[], Awaitable[Any]]) -> Entry:
        return await self.cache.get(kind, key, self._fetch(read))

    async def title_entry(self, ref: TitleRef) -> Entry:
        return await self._get(
            "metadata",
            f"title:{ref.media_type}:{ref.tmdb_id}",
            lambda: self.source.title(ref.media_type, ref.tmdb_id),
        )

    async def title(self, ref: TitleRef) -> Title:
        return Title.model_validate_json((await self.title_entry(ref)).value)

    async def title_answer(self, ref: TitleRef) -> tuple[bytes, Entry]:
        """`{"success": true, "movie": {...title, cached_at, expires_at}}`, built from the
        cached bytes without decoding them."""
        entry = await self.title_entry(ref)
        stamps = b',"cached_at":"%s","expires_at":"%s"}' % (
            _iso(entry.fetched_at).encode(),
            _iso(entry.expires_at).encode(),
        )
        return b'{"success":true,"movie":' + entry.value[:-1] + stamps + b"}", entry

    async def browse(self, query: BrowseQuery) -> tuple[StoredPage, Entry]:
        key = f"browse:{query.type}:{query.genre}:{query.year}:{query.sort}:{query.page}"
        entry = await self._get(
            "metadata",
            key,
            lambda: self.source.browse(
                query.type, genre=query.genre, year=query.year, sort=query.sort, page=query.page
            ),
        )
        return orjson.loads(entry.value), entry

    async def trending(self, query: TrendingQuery) -> tuple[StoredPage, Entry]:
        key = f"trending:{query.type}:{query.window}:{query.page}"
        entry = await self._get(
            "metadata", key, lambda: self.source.trending(query.type, query.window, query.page)
        )
        return orjson.loads(entry.value), entry

    async def genres(self, media_type: MediaType) -> tuple[list[Genre], Entry]:
        entry = await self._get(
            "metadata", f"genres:{media_type}", lambda: self.source.genres(media_type)
        )
        return [Genre.model_validate(g) for g in orjson.loads(entry.value)], entry

    async def search(self, query: SearchQuery) -> tuple[StoredPage, Entry]:
        """Title words through the source's multi search (cached 6 h per words and page),
        then the filters on that page; filters alone browse (type: movie unless given)."""
        if query.q is None:
            browse = BrowseQuery(
                type=query.type or "movie", genre=query.genre, year=query.year, page=query.page
            )
            return await self.browse(browse)
        words = " ".join(query.q.lower().split())
        digest = hashlib.sha256(words.encode()).hexdigest()[:32]
        entry = await self._get(
            "search", f"multi:{query.page}:{digest}", lambda: self.source.search(words, query.page)
        )
        page: StoredPage = orjson.loads(entry.value)
        if query.type or query.genre or query.year:
            page["results"] = await self._filtered(page["results"], query)
        return page, entry

    async def _filtered(
        self, results: list[dict[str, Any]], query: SearchQuery
    ) -> list[dict[str, Any]]:
        names: set[str] = set()
        if query.genre is not None:
            for kind in MEDIA_TYPES:
                names |= {g.name for g in (await self.genres(kind))[0] if g.id == query.genre}
        year = str(query.year) if query.year else None
        return [
            t
            for t in results
            if (query.type is None or t["type"] == query.type)
            and (not names or names & set(t["genres"]))
            and (year is None or (t["release_date"] or "").startswith(year))
        ]

    async def streams(self, ref: TitleRef, query: StreamQuery) -> tuple[bytes, Entry]:
        season, episode = (query.season, query.episode) if ref.media_type == "tv" else (1, 1)

        async def resolve() -> Any:
            try:
                return await streams.resolve(
                    self.stream_providers, ref.media_type, ref.tmdb_id, season, episode
                )
            except streams.NoSources as exc:
                if exc.not_found:
                    raise UpstreamNotFound(str(exc)) from exc
                raise UpstreamError("streams", str(exc)) from exc

        key = f"{ref.media_type}:{ref.tmdb_id}:{season}:{episode}"
        try:
            entry = await self._get("streams", key, resolve)
        except NotFound as exc:
            raise NotFound("No stream source is known for this title") from exc
        except ServiceUnavailable as exc:
            exc.message = "No stream source answers for this title now; try again shortly"
            raise
        stamps = b',"cached_at":"%s","expires_at":"%s"}' % (
            _iso(entry.fetched_at).encode(),
            _iso(entry.expires_at).encode(),
        )
        return b'{"success":true,' + entry.value[1:-1] + stamps, entry

    # --- operations ---------------------------------------------------------------------

    async def clear(self, kind: Kind | None) -> int:
        return await self.cache.clear(KINDS if kind is None else (kind,))

    async def cached_counts(self) -> dict[str, int]:
        return {kind: await self.cache.count(kind) for kind in KINDS}

    async def warm(self, *, list_pages: int) -> int:
        """Refresh the lists every client opens (trending, popular, genres) now, whatever
        their age, so no user waits on the provider for them. The number refreshed."""
        done = 0
        source = self.source
        jobs: list[tuple[str, Callable[[], Awaitable[Any]]]] = []
        for kind in MEDIA_TYPES:
            jobs.append((f"genres:{kind}", partial(source.genres, kind)))
            for page in range(1, list_pages + 1):
                read = partial(
                    source.browse, kind, genre=None, year=None, sort="popularity", page=page
                )
                jobs.append((f"browse:{kind}:None:None:popularity:{page}", read))
        scopes: tuple[MediaType | Literal["all"], ...] = ("all", *MEDIA_TYPES)
        for scope in scopes:
            for window in WINDOWS:
                jobs.append(
                    (f"trending:{scope}:{window}:1", partial(source.trending, scope, window, 1))
                )
        for key, reader in jobs:
            try:
                await self.cache.refresh("metadata", key, self._fetch(reader))
                done += 1
            except (ServiceUnavailable, NotFound) as exc:
                log.warning("cache warming skipped a list", extra={"key": key, "error": str(exc)})
        return done
