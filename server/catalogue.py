"""Composition root, catalogue part (OnStream): the metadata source and stream providers the
settings name (TMDb and Consumet, or the demo catalogue without a TMDb key), their upstream
policies and the shared cache. Imported by server/services.py only."""

from __future__ import annotations

import logging

from redis.asyncio import Redis

from handlers.catalogue.cache import CatalogueCache
from handlers.catalogue.demo import DemoCatalogue
from handlers.catalogue.service import CatalogueService
from handlers.catalogue.streams import ConsumetProvider, StreamProvider
from handlers.catalogue.tmdb import MetadataSource, TmdbClient
from handlers.catalogue.upstream import Policy, Upstream
from server.config import Settings

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
