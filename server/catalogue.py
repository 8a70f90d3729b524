"""Composition root, catalogue part (OnStream): the metadata source and stream providers the
settings name (TMDb and Consumet, or the demo catalogue without a TMDb key), their upstream
policies and the shared cache. Imported by server/services.py only."""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Sequence

from redis.asyncio import Redis

from channels.broker import MemoryBroker
from channels.publisher import Publisher
from core.errors import DomainError
from handlers.catalogue.cache import CatalogueCache
from handlers.catalogue.demo import DemoCatalogue
from handlers.catalogue.events import LibraryEvents
from handlers.catalogue.library import LibraryService
from handlers.catalogue.service import CatalogueService
from handlers.catalogue.streams import ConsumetProvider, StreamProvider
from handlers.catalogue.titles import TitleRef
from handlers.catalogue.tmdb import MetadataSource, TmdbClient
from handlers.catalogue.upstream import Policy, Upstream
from server.config import Settings
from storage import db

log = logging.getLogger("streamhub.catalogue")


def _policy(settings: Settings, rate_per_s: float) -> Policy:
    return Policy(
        timeout_s=settings.upstream_timeout_seconds,
        max_attempts=settings.upstream_max_attempts,
        max_retry_after_s=settings.upstream_max_retry_after_seconds,
        rate_per_s=rate_per_s,
        burst=max(1, int(rate_per_s // 4)),
        failure_threshold=settings.upstream_failure_threshold,
        reset_after_s=settings.upstream_circuit_reset_seconds,
    )


def build_catalogue(settings: Settings, redis: Redis) -> CatalogueService:
    source: MetadataSource
    providers: list[StreamProvider]
    upstreams: list[Upstream] = []
    if settings.tmdb_api_key:
        tmdb = TmdbClient(
            settings.tmdb_base_url,
            _policy(settings, settings.tmdb_requests_per_second),
            api_key=settings.tmdb_api_key,
        )
        consumet = ConsumetProvider(
            settings.consumet_api_base,
            _policy(settings, settings.consumet_requests_per_second),
            servers=settings.consumet_servers,
        )
        source, providers = tmdb, [consumet]
        upstreams = [tmdb.http, consumet.http]
    else:
        demo = DemoCatalogue()
        source, providers = demo, [demo]
        log.warning(
            "TMDB_API_KEY is unset: serving the demo catalogue (made-up titles, test streams)"
        )
    # The lock outlives the longest fetch the policy allows, so no second node starts one.
    policy = _policy(settings, 1.0)
    worst_fetch = policy.max_attempts * (policy.timeout_s + policy.max_retry_after_s) * 3
    cache = CatalogueCache(
        redis,
        ttls={
            "metadata": settings.catalogue_metadata_ttl_seconds,
            "streams": settings.catalogue_streams_ttl_seconds,
            "search": settings.catalogue_search_ttl_seconds,
        },
        stale_keep_s=settings.catalogue_stale_keep_seconds,
        lock_s=worst_fetch + 1,
        wait_s=settings.catalogue_wait_seconds,
        local_ttl_s=settings.catalogue_local_cache_seconds,
        local_max_entries=settings.catalogue_local_cache_entries,
    )
    return CatalogueService(
        cache=cache, source=source, stream_providers=providers, upstreams=upstreams
    )


async def seed_catalogue(settings: Settings, user_ids: Sequence[uuid.UUID]) -> dict[str, int]:
    """`run.py seed`: warm the catalogue's lists (the demo catalogue without a TMDb key) and
    give each of `user_ids` a few favorites and a watch history, through the same services as
    the API (events are not published: no one is connected)."""
    assert settings.database_url and settings.redis_url
    redis = Redis.from_url(settings.redis_url)
    pool = await db.create_pool(settings.database_url, min_size=1, max_size=4)
    catalogue = build_catalogue(settings, redis)
    library = LibraryService(
        db=pool, catalogue=catalogue, events=LibraryEvents(Publisher(MemoryBroker()))
    )
    rng = random.Random(11)
    counts = {"lists": 0, "favorites": 0, "history": 0}
    try:
        counts["lists"] = await catalogue.warm(list_pages=settings.catalogue_warm_pages)
        titles: list[TitleRef] = []
        for page in range(1, 3):
            for kind in ("movie", "tv"):
                found = await catalogue.source.browse(
                    kind, genre=None, year=None, sort="popularity", page=page
                )
                titles += [t.ref for t in found.results]
        for user_id in user_ids:
            for ref in rng.sample(titles, min(3, len(titles))):
                await library.add_favorite(user_id=user_id, ref=ref)
                counts["favorites"] += 1
            for ref in rng.sample(titles, min(4, len(titles))):
                runtime = float(rng.choice((2520, 5400, 7200)))
                await library.record_progress(
                    user_id=user_id,
                    ref=ref,
                    progress=round(runtime * rng.random(), 1),
                    runtime=runtime,
                    device_id="seed",
                )
                counts["history"] += 1
    except DomainError as exc:  # the provider is down or refuses the key: seed what we could
        log.warning("catalogue seeding stopped early", extra={"error": str(exc)})
    finally:
        await catalogue.close()
        await pool.close()
        await redis.aclose()
    return counts
