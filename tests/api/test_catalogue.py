"""OnStream's catalogue endpoints over real HTTP, against the local TMDb + Consumet fake:
shapes, the naming rule, TTLs on a controllable clock, cluster-wide coalescing, stale serving,
the per-IP rate limit."""

from __future__ import annotations

import asyncio
from typing import Any

from handlers.catalogue import routes as catalogue
from tests.catalogue_support import Clock, fake, node, ok
from tests.content import error_of
from tests.fake_upstreams import FakeUpstreams
from tests.waiting import wait_for

__all__ = ["fake", "node"]  # fixtures
DAY = 86400.0
TITLE_FIELDS = {
    "id", "tmdb_id", "type", "title", "overview", "poster_path", "backdrop_path",
    "release_date", "genres", "vote_average", "runtime",
}  # fmt: skip


async def test_every_endpoint_answers_its_shape(node: Any, fake: FakeUpstreams) -> None:
    client = await node()
    movie = (await ok(client, "/api/movies/7", "MISS"))["movie"]
    assert set(movie) == TITLE_FIELDS | {"cached_at", "expires_at"}
    assert movie["id"] == "movie-7" and movie["type"] == "movie" and movie["runtime"] == 97
    assert movie["genres"] == ["Science Fiction"] and movie["title"] == "Movie 7"
    again = (await ok(client, "/api/v1/movies/movie-7", "HIT"))["movie"]
    assert again == movie  # /api/v1 too, and a bare number is a movie
    assert fake.calls["/3/{kind}/{id}"] == 1

    page = await ok(client, "/api/movies?type=tv&sort=rating&page=2")
    assert page["pagination"] == {
        "current_page": 2, "total_pages": 2, "total_items": 40, "has_next": False, "has_prev": True,
    }  # fmt: skip
    assert len(page["results"]) == 20 and all(t["type"] == "tv" for t in page["results"])
    assert set(page["results"][0]) == TITLE_FIELDS
    comedies = await ok(client, "/api/movies?genre=35&year=1991")
    assert comedies["results"] and all(
        t["genres"] == ["Comedy"] and t["release_date"].startswith("1991")
        for t in comedies["results"]
    )

    found = await ok(client, "/api/search?q=Show%201&type=tv")
    assert found["results"] and {t["type"] for t in found["results"]} == {"tv"}
    by_genre = await ok(client, "/api/search?q=movie&genre=18")
    assert by_genre["results"] and all(t["genres"] == ["Drama"] for t in by_genre["results"])
    trending = await ok(client, "/api/trending?window=week&type=all")
    assert trending["window"] == "week" and trending["results"]
    genres = (await ok(client, "/api/genres"))["genres"]
    assert {"id": 35, "name": "Comedy", "type": "tv"} in genres and len(genres) == 7

    stream = await ok(client, "/api/movies/tv-3/stream?season=2&episode=1", "MISS")
    assert stream["tmdb_id"] == 3 and stream["type"] == "tv" and stream["provider"] == "consumet"
    assert stream["sources"][0] == {
        "url": "https://cdn.vidcloud.example/3-2-1/master.m3u8",
        "quality": "auto", "server": "vidcloud", "type": "hls",
    }  # fmt: skip
    assert {"cached_at", "expires_at"} <= set(stream)

    browsed = await ok(client, "/api/search?q=%20%20")  # blank words: popular movies
    assert browsed["results"][0]["tmdb_id"] == 1 and browsed["pagination"]["total_items"] == 100
    bad_paths = ("/api/movies?sort=worst", "/api/movies/0", "/api/movies/film-3",
                 "/api/movies/1234567890", "/api/movies/tv-1%0A")  # fmt: skip
    for bad in bad_paths:
        assert (await error_of(await client.get(bad), 400))["code"] == "VALIDATION_ERROR"


async def test_a_movie_and_a_show_with_one_tmdb_number_are_two_titles(node: Any) -> None:
    client = await node()
    movie = (await ok(client, "/api/movies/movie-1"))["movie"]
    show = (await ok(client, "/api/movies/tv-1"))["movie"]
    assert (movie["title"], show["title"]) == ("Movie 1", "Show 1")
    assert movie["tmdb_id"] == show["tmdb_id"] == 1 and show["id"] == "tv-1"


async def test_unknown_titles_are_404_and_remembered(node: Any, fake: FakeUpstreams) -> None:
    client = await node()
    for _ in range(3):
        error = await error_of(await client.get("/api/movies/tv-999"), 404)
        assert error["code"] == "NOT_FOUND"
    assert fake.calls["/3/{kind}/{id}"] == 1
    await error_of(await client.get("/api/movies/999/stream"), 404)


async def test_ttls_per_kind_on_the_cache_clock(node: Any, fake: FakeUpstreams) -> None:
    clock = Clock()
    client = await node(clock)
    checks = [  # path, TTL (OnStream: metadata 24 h, streams 1 h, search 6 h), route counted
        ("/api/movies/8", DAY, "/3/{kind}/{id}"),
        ("/api/movies/8/stream", 3600.0, "/meta/tmdb/info/{id}"),
        ("/api/search?q=movie%202", 6 * 3600.0, "/3/search/multi"),
    ]
    for path, _, _ in checks:
        await ok(client, path, "MISS")
    start = clock.now
    for path, ttl, route in checks:
        clock.now = start + ttl - 1
        await ok(client, path, "HIT")
        assert fake.calls[route] == 1, path
        clock.now = start + ttl + 1
        await ok(client, path, "MISS")
        assert fake.calls[route] == 2, path


async def test_100_concurrent_misses_on_two_nodes_make_one_upstream_call(
    node: Any, fake: FakeUpstreams
) -> None:
    first, second = await node(), await node()
    fake.delay_s = 0.3  # every request arrives while the first fetch is in flight
    answers = await asyncio.gather(
        *(
            (first if i % 2 else second).get(f"/api/{'v1/' if i % 3 else ''}movies/tv-5")
            for i in range(100)
        )
    )
    assert [r.status for r in answers] == [200] * 100
    bodies = [await r.json() for r in answers]
    assert {b["movie"]["title"] for b in bodies} == {"Show 5"}
    assert fake.calls["/3/{kind}/{id}"] == 1


async def test_stale_entries_are_served_through_an_outage(node: Any, fake: FakeUpstreams) -> None:
    clock = Clock()
    client = await node(clock, UPSTREAM_CIRCUIT_RESET_SECONDS=0.2)
    await ok(client, "/api/movies/9", "MISS")
    await ok(client, "/api/trending", "MISS")
    clock.now += 2 * DAY
    fake.fail_status = 503
    resp = await client.get("/api/movies/9")
    assert resp.status == 200 and resp.headers["X-Cache"] == "STALE"
    assert resp.headers["Warning"] == '110 - "Response is Stale"'
    assert (await resp.json())["movie"]["title"] == "Movie 9"
    resp = await client.get("/api/trending")
    assert resp.status == 200 and resp.headers["X-Cache"] == "STALE"
    never_seen = await client.get("/api/movies/10")
    error = await error_of(never_seen, 503)
    assert error["code"] == "SERVICE_UNAVAILABLE" and "never cached" in error["message"]
    assert int(never_seen.headers["Retry-After"]) >= 1
    counted = await client.app[catalogue.SERVICE].cache.stats()
    assert counted == {"misses": 5, "stale": 2}  # expired entries are misses, then stale
    assert client.app[catalogue.SERVICE].upstreams[0].breaker.state != "closed"
    fake.fail_status = None

    async def refreshed() -> bool:  # once the breaker lets a trial call through
        return (await client.get("/api/movies/9")).headers["X-Cache"] == "MISS"

    await wait_for(refreshed)
    await ok(client, "/api/movies/9", "HIT")


async def test_a_dead_stream_server_is_skipped_and_no_failure_is_cached(
    node: Any, fake: FakeUpstreams
) -> None:
    client = await node()
    fake.dead_servers = {"vidcloud"}
    stream = await ok(client, "/api/movies/11/stream", "MISS")
    assert {s["server"] for s in stream["sources"]} == {"upcloud"}
    fake.dead_servers = {"vidcloud", "upcloud"}
    error = await error_of(await client.get("/api/movies/12/stream"), 503)
    assert error["code"] == "SERVICE_UNAVAILABLE"
    fake.dead_servers = set()  # the next request fetches again: the failure was not cached
    stream = await ok(client, "/api/movies/12/stream", "MISS")
    assert {s["server"] for s in stream["sources"]} == {"vidcloud"}


async def test_catalogue_budget_is_100_per_minute_per_ip(node: Any) -> None:
    client = await node(RATE_LIMIT_ENABLED=True)
    statuses = [(await client.get("/api/genres?type=movie")).status for _ in range(100)]
    assert statuses == [200] * 100
    refused = await client.get("/api/movies/1")
    error = await error_of(refused, 429)
    assert error["details"]["policy"] == "catalogue" and "Retry-After" in refused.headers
