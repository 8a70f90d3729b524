"""Catalogue figures for /metrics, read from Redis at scrape time: cache hits, misses and
stale serves, and per provider the upstream calls, errors and seconds spent. They are the
cluster's counters (every node reports the same values: aggregate with `max`, never `sum`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from handlers.catalogue.service import CatalogueService

log = logging.getLogger("streamhub.catalogue.metrics")
STATS_TIMEOUT_S = 2.0


class CatalogueCollector(Collector):
    """Call `refresh()` before each scrape; `collect()` reports what it read."""

    def __init__(self, catalogue: CatalogueService) -> None:
        self.catalogue = catalogue
        self._cache: dict[str, int] = {}
        self._upstream: dict[str, dict[str, float]] = {}
        self._ok = False

    async def refresh(self) -> None:
        try:
            async with asyncio.timeout(STATS_TIMEOUT_S):
                self._cache = await self.catalogue.cache.stats()
                self._upstream = await self.catalogue.upstream_stats()
            self._ok = True
        except Exception as exc:  # the scrape itself must succeed
            self._cache, self._upstream, self._ok = {}, {}, False
            log.warning("reading catalogue figures failed", extra={"error": repr(exc)})

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "streamhub_catalogue_stats_up",
            "1 if the catalogue figures were read from Redis at this scrape",
            value=int(self._ok),
        )
        reads = CounterMetricFamily(
            "streamhub_catalogue_cache_reads",
            "Catalogue cache reads by outcome (hit, miss, stale), all nodes",
            labels=["outcome"],
        )
        for outcome, field in (("hit", "hits"), ("miss", "misses"), ("stale", "stale")):
            reads.add_metric([outcome], self._cache.get(field, 0))
        yield reads
        calls = CounterMetricFamily(
            "streamhub_catalogue_upstream_calls", "Upstream HTTP attempts", labels=["provider"]
        )
        errors = CounterMetricFamily(
            "streamhub_catalogue_upstream_errors",
            "Upstream attempts that failed (timeout, connection, 5xx, 429, malformed)",
            labels=["provider"],
        )
        latency = GaugeMetricFamily(
            "streamhub_catalogue_upstream_mean_latency_seconds",
            "Mean duration of an upstream attempt",
            labels=["provider"],
        )
        for provider, figures in sorted(self._upstream.items()):
            calls.add_metric([provider], figures.get("calls", 0))
            errors.add_metric([provider], figures.get("errors", 0))
            latency.add_metric([provider], figures.get("mean_latency_ms", 0.0) / 1000)
        yield calls
        yield errors
        yield latency
