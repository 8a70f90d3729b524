"""Queue figures for /metrics, read from Postgres at scrape time.

Workers may run in other processes than the node being scraped (`run.py worker`, or the
worker a node starts beside itself), so the figures come from the tables, not from any
worker's memory. They are cluster-wide: every node reports the same values, so aggregate with
`max by (kind)`, never `sum`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import asyncpg
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from storage import jobs

log = logging.getLogger("streamhub.jobs.metrics")

# A scrape must answer even when Postgres is slow; the job figures are then left out.
STATS_TIMEOUT_S = 2.0


class JobsCollector(Collector):
    """Call `refresh(pool)` before each scrape; `collect()` reports what it read."""

    def __init__(self) -> None:
        self._stats: list[jobs.KindStats] = []
        self._ok = False

    async def refresh(self, pool: asyncpg.Pool) -> None:
        try:
            async with asyncio.timeout(STATS_TIMEOUT_S):
                self._stats = await jobs.stats(pool)
            self._ok = True
        except Exception as exc:  # the scrape itself must succeed
            self._stats, self._ok = [], False
            log.warning("reading job figures failed during scrape", extra={"error": repr(exc)})

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "streamhub_jobs_stats_up",
            "1 if the job figures were read from Postgres at this scrape",
            value=int(self._ok),
        )
        families: dict[str, GaugeMetricFamily | CounterMetricFamily] = {
            "queued": GaugeMetricFamily(
                "streamhub_jobs_queued", "Jobs due now and waiting for a worker", labels=["kind"]
            ),
            "scheduled": GaugeMetricFamily(
                "streamhub_jobs_scheduled",
                "Queued jobs not due yet (scheduled, or waiting out a retry backoff)",
                labels=["kind"],
            ),
            "running": GaugeMetricFamily(
                "streamhub_jobs_running", "Jobs leased to a worker", labels=["kind"]
            ),
            "dead": GaugeMetricFamily(
                "streamhub_jobs_dead", "Jobs that used up their attempts", labels=["kind"]
            ),
            "oldest_queued_seconds": GaugeMetricFamily(
                "streamhub_jobs_oldest_queued_age_seconds",
                "How long the oldest due job has waited past its run_at",
                labels=["kind"],
            ),
            "failures": CounterMetricFamily(
                "streamhub_jobs_failures",
                "Failed job attempts (error, timeout or lost worker), all workers",
                labels=["kind"],
            ),
        }
        for stats in self._stats:
            for attribute, family in families.items():
                family.add_metric([stats.kind], getattr(stats, attribute))
        yield from families.values()
