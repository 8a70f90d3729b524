"""The catalogue without a TMDb key (the demo source, same code path), cache warming, and
response compression on every contract's JSON."""

from __future__ import annotations

import gzip
from typing import Any

from aiohttp.test_utils import TestClient

from handlers.catalogue import routes as catalogue
from handlers.catalogue.jobs import WARM
from server.app import SERVICES
from server.http.compression import chosen_coding
from server.services import job_kinds
from tests.catalogue_support import Clock, fake, node, ok
from tests.content import make_user
from tests.fake_upstreams import FakeUpstreams

__all__ = ["fake", "node"]  # fixtures


async def test_without_a_key_the_demo_catalogue_serves_every_endpoint(client: TestClient) -> None:
    assert client.app[SERVICES].settings.tmdb_api_key is None
    ready = await ok_plain(client, "/readyz")
    assert "demo catalogue" in ready["details"]["catalogue"]
    page = await ok(client, "/api/movies?sort=rating")
    assert len(page["results"]) == 20 and page["pagination"]["total_items"] == 240
    assert page["results"][0]["poster_path"].startswith("data:image/svg+xml;base64,")
    ratings = [t["vote_average"] for t in page["results"]]
    assert ratings == sorted(ratings, reverse=True)
    movie = (await ok(client, "/api/movies/tv-7"))["movie"]
    assert movie["type"] == "tv" and movie["runtime"]
    stream = await ok(client, "/api/movies/tv-7/stream?season=1&episode=2")
    assert stream["provider"] == "demo" and stream["sources"]
    word = movie["title"].split()[0]
    found = await ok(client, f"/api/search?q={word}")
    assert any(t["id"] == "tv-7" for t in found["results"])
    assert (await ok(client, "/api/trending?window=week"))["results"]
    assert len((await ok(client, "/api/genres"))["genres"]) == 21
    assert (await client.get("/api/movies/movie-241")).status == 404
    _, headers = await make_user(client)
    added = await client.post("/api/favorites", json={"movie_id": "tv-7"}, headers=headers)
    assert added.status == 200 and (await added.json())["created"] is True


async def ok_plain(client: TestClient, path: str) -> dict[str, Any]:
    resp = await client.get(path)
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def test_warming_refreshes_lists_before_they_expire(node: Any, fake: FakeUpstreams) -> None:
    clock = Clock()
    client = await node(clock)
    service = client.app[catalogue.SERVICE]
    kinds = {kind.name: kind for kind in job_kinds(client.app[SERVICES])}
    assert kinds[WARM].every_seconds == 3600  # well inside the 24 h metadata TTL
    refreshed = await service.warm(list_pages=2)
    assert refreshed == 2 + 2 * 2 + 6  # genres, popular pages, trending (3 scopes x 2 windows)
    calls = fake.tmdb_calls()
    for path in ("/api/trending", "/api/trending?window=week&type=tv", "/api/movies?page=2",
                 "/api/movies?type=tv", "/api/genres"):  # fmt: skip
        await ok(client, path, "HIT")
    assert fake.tmdb_calls() == calls, "no request waited on TMDb"
    clock.now += 23 * 3600  # nearly expired; the next warming replaces them
    await service.warm(list_pages=1)
    clock.now += 2 * 3600  # past the first fetch's TTL, within the second's
    await ok(client, "/api/trending", "HIT")


def test_accept_encoding_is_read_with_its_q_values() -> None:
    assert chosen_coding("gzip, deflate, br") is not None
    assert chosen_coding("gzip;q=0, deflate").value == "deflate"  # type: ignore[union-attr]
    assert chosen_coding("gzip;q=0") is None
    assert chosen_coding("identity") is None
    assert chosen_coding("*") is not None and chosen_coding("") is None


async def test_large_json_is_compressed_on_every_contract(client: TestClient) -> None:
    _, headers = await make_user(client, role="creator")
    for i in range(12):  # a CLUTCH list big enough to compress
        await client.post(
            "/api/videos",
            json={"title": f"Video {i}", "video_url": "https://cdn.example.com/v.mp4"},
            headers=headers,
        )
    for path in ("/api/movies", "/api/videos", "/openapi.json"):
        plain = await client.get(path, headers={"Accept-Encoding": "identity"})
        body = await plain.read()
        assert "Content-Encoding" not in plain.headers and len(body) > 1024, path
        assert plain.headers["Vary"] == "Accept-Encoding"
        packed = await client.get(path, headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
        assert packed.headers["Content-Encoding"] == "gzip", path
        raw = await packed.read()
        assert len(raw) < len(body) and len(gzip.decompress(raw)) == len(body)
    small = await client.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in small.headers
