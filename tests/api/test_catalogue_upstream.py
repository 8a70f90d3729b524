"""The TMDb client and the Consumet provider against the local fake (tests/fake_upstreams.py):
shapes, retries, Retry-After, the outbound throttle, the circuit breaker, server fallback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from handlers.catalogue import streams
from handlers.catalogue.streams import ConsumetProvider
from handlers.catalogue.tmdb import TmdbClient
from handlers.catalogue.upstream import (
    CircuitBreaker,
    Policy,
    Throttle,
    UpstreamError,
    UpstreamNotFound,
)
from tests.fake_upstreams import API_KEY, FakeUpstreams

FAST = Policy(
    timeout_s=0.5, max_attempts=3, backoff_s=0.01, max_retry_after_s=2.0, rate_per_s=1000, burst=100
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeUpstreams]:
    server = FakeUpstreams()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def tmdb(fake: FakeUpstreams) -> AsyncIterator[TmdbClient]:
    client = TmdbClient(fake.url, FAST, api_key=API_KEY)
    yield client
    await client.close()


async def test_shapes_of_every_tmdb_path(tmdb: TmdbClient, fake: FakeUpstreams) -> None:
    movie = await tmdb.title("movie", 1)
    assert movie.id == "movie-1" and movie.title == "Movie 1" and movie.genres == ["Comedy"]
    assert movie.runtime == 91 and movie.type == "movie"
    show = await tmdb.title("tv", 1)
    assert show.id == "tv-1" and show.title == "Show 1" and show.runtime == 42  # same TMDb id
    popular = await tmdb.browse("movie", genre=None, year=None, sort="popularity", page=2)
    assert popular.page == 2 and len(popular.results) == 20 and popular.total_results == 100
    assert popular.results[0].tmdb_id == 21 and popular.results[0].genres  # ids named
    comedies = await tmdb.browse("movie", genre=35, year=None, sort="rating", page=1)
    assert comedies.results and all(t.genres == ["Comedy"] for t in comedies.results)
    week = await tmdb.trending("all", "week", 1)
    assert {t.type for t in week.results} <= {"movie", "tv"}
    found = await tmdb.search("show 1", 1)
    assert found.results and all(t.type == "tv" for t in found.results)  # the person is dropped
    assert [g.name for g in await tmdb.genres("tv")] == ["Action & Adventure", "Comedy", "Drama"]
    with pytest.raises(UpstreamNotFound):
        await tmdb.title("movie", 99999)
    assert fake.calls["/3/discover/{kind}"] == 1 and fake.calls["/3/genre/{kind}/list"] == 2


async def test_v4_token_is_sent_as_bearer(fake: FakeUpstreams) -> None:
    client = TmdbClient(fake.url, FAST, api_key=f"{API_KEY}.x.y")
    try:
        assert (await client.title("movie", 2)).title == "Movie 2"
    finally:
        await client.close()
    wrong = TmdbClient(fake.url, FAST, api_key="nope")
    try:
        with pytest.raises(UpstreamError, match="401"):
            await wrong.title("movie", 2)
        assert wrong.http.stats.calls == 1, "a refused key is not retried"
    finally:
        await wrong.close()


async def test_server_errors_are_retried_a_bounded_number_of_times(
    tmdb: TmdbClient, fake: FakeUpstreams
) -> None:
    fake.fail_status = 500
    with pytest.raises(UpstreamError, match="500"):
        await tmdb.title("movie", 3)
    assert fake.calls["/3/{kind}/{id}"] == FAST.max_attempts
    fake.fail_status = None
    assert (await tmdb.title("movie", 3)).tmdb_id == 3


async def test_429_waits_for_retry_after_then_succeeds(
    tmdb: TmdbClient, fake: FakeUpstreams
) -> None:
    fake.rate_limit_next, fake.retry_after = 1, "0.3"
    started = time.monotonic()
    assert (await tmdb.title("movie", 4)).tmdb_id == 4
    assert time.monotonic() - started >= 0.3  # a lower bound: it waited at least Retry-After
    assert fake.calls["/3/{kind}/{id}"] == 2


async def test_429_longer_than_a_request_can_wait_fails_at_once(
    tmdb: TmdbClient, fake: FakeUpstreams
) -> None:
    fake.rate_limit_next, fake.retry_after = 5, "120"
    with pytest.raises(UpstreamError, match="429") as caught:
        await tmdb.title("movie", 5)
    assert caught.value.retry_after_s == 120
    assert fake.calls["/3/{kind}/{id}"] == 1
    assert tmdb.http.throttle.paused_until > time.monotonic() + 60  # every caller holds off


async def test_timeouts_then_the_circuit_opens(fake: FakeUpstreams) -> None:
    policy = Policy(
        timeout_s=0.05, max_attempts=2, backoff_s=0.0, failure_threshold=4, reset_after_s=60
    )
    client = TmdbClient(fake.url, policy, api_key=API_KEY)
    fake.delay_s = 0.5
    try:
        for _ in range(2):
            with pytest.raises(UpstreamError, match="timeout"):
                await client.title("movie", 6)
        assert client.http.breaker.state == "open"
        calls = sum(fake.calls.values())
        with pytest.raises(UpstreamError, match="circuit open"):
            await client.title("movie", 6)
        assert sum(fake.calls.values()) == calls, "an open circuit sends nothing"
    finally:
        await client.close()


def test_breaker_half_opens_for_one_trial() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=2, reset_after_s=10, clock=lambda: now[0])
    breaker.failure()
    assert breaker.allow()
    breaker.failure()
    assert breaker.state == "open" and not breaker.allow()
    now[0] = 10
    assert breaker.allow() and not breaker.allow()  # one trial only
    breaker.failure()
    assert breaker.state == "open"
    now[0] = 20
    assert breaker.allow()
    breaker.success()
    assert breaker.state == "closed" and breaker.allow()


async def test_throttle_spaces_calls_beyond_the_burst() -> None:
    now = [0.0]
    throttle = Throttle(rate_per_s=10, burst=2, clock=lambda: now[0])
    await throttle.acquire()
    await throttle.acquire()
    waiter = asyncio.ensure_future(throttle.acquire())
    await asyncio.sleep(0.01)
    assert not waiter.done(), "the third call waits for a token"
    now[0] = 0.1
    await asyncio.wait_for(waiter, 5)


async def test_consumet_falls_back_to_the_next_server_and_provider(fake: FakeUpstreams) -> None:
    consumet = ConsumetProvider(fake.url, FAST, servers=["vidcloud", "upcloud"])
    try:
        found = await streams.resolve([consumet], "tv", 2, 2, 1)
        assert found.sources[0].url == "https://cdn.vidcloud.example/2-2-1/master.m3u8"
        assert {s.type for s in found.sources} == {"hls", "mp4"}
        fake.dead_servers = {"vidcloud"}
        found = await streams.resolve([consumet], "movie", 7, 1, 1)
        assert {s.server for s in found.sources} == {"upcloud"}
        with pytest.raises(streams.NoSources) as caught:
            await streams.resolve([consumet], "movie", 5000, 1, 1)
        assert caught.value.not_found
        fake.dead_servers = {"vidcloud", "upcloud"}
        with pytest.raises(streams.NoSources) as caught:
            await streams.resolve([consumet], "movie", 7, 1, 1)
        assert not caught.value.not_found
    finally:
        await consumet.close()


class _Down:
    name = "first"

    async def sources(self, media_type: str, tmdb_id: int, season: int, episode: int) -> Any:
        raise UpstreamError("first", "answered 502")

    async def close(self) -> None:
        pass


async def test_streams_fall_back_to_the_next_provider(fake: FakeUpstreams) -> None:
    consumet = ConsumetProvider(fake.url, FAST, servers=["vidcloud"])
    try:
        found = await streams.resolve([_Down(), consumet], "movie", 3, 1, 1)  # type: ignore[list-item]
        assert found.provider == "consumet" and found.sources
        with pytest.raises(streams.NoSources) as caught:
            await streams.resolve([_Down()], "movie", 3, 1, 1)  # type: ignore[list-item]
        assert caught.value.reasons == ["first: answered 502"] and not caught.value.not_found
    finally:
        await consumet.close()
