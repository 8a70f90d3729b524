"""OnStream's favorites, watch history and admin features over real HTTP: idempotence,
isolation between users, progress events on `user:{id}`, admin figures and cache clearing."""

from __future__ import annotations

from typing import Any

from tests.catalogue_support import fake, node, ok
from tests.content import error_of, events, make_user, make_users
from tests.fake_upstreams import FakeUpstreams

__all__ = ["fake", "node"]  # fixtures


async def test_favorites_are_idempotent_and_private(node: Any, fake: FakeUpstreams) -> None:
    client = await node()
    (alice, a_headers), (bob, b_headers) = await make_users(client, 2)
    first = await client.post("/api/favorites", json={"movie_id": "tv-3"}, headers=a_headers)
    assert first.status == 200, await first.text()
    body = await first.json()
    assert body["created"] is True and body["favorite"]["id"] == "tv-3"
    assert body["favorite"]["movie"]["title"] == "Show 3"
    again = await client.post("/api/favorites", json={"movie_id": "tv-3"}, headers=a_headers)
    assert again.status == 200 and (await again.json())["created"] is False
    await client.post("/api/favorites", json={"movie_id": "4"}, headers=a_headers)

    mine = await ok(client_with(client, a_headers), "/api/favorites")
    assert [f["id"] for f in mine["favorites"]] == ["movie-4", "tv-3"]  # newest first
    assert mine["pagination"]["total_items"] == 2
    theirs = await ok(client_with(client, b_headers), "/api/favorites")
    assert theirs["favorites"] == [] and theirs["pagination"]["total_items"] == 0

    # Bob cannot remove Alice's favorite: for him it does not exist.
    await error_of(await client.delete("/api/favorites/tv-3", headers=b_headers), 404)
    assert len((await ok(client_with(client, a_headers), "/api/favorites"))["favorites"]) == 2
    removed = await client.delete("/api/favorites/tv-3", headers=a_headers)
    assert removed.status == 200
    await error_of(await client.delete("/api/favorites/tv-3", headers=a_headers), 404)

    # Reading favorites never calls the provider: the title was kept with the row.
    calls = fake.tmdb_calls()
    await ok(client_with(client, a_headers), "/api/favorites")
    assert fake.tmdb_calls() == calls
    assert alice.id != bob.id


async def test_favorite_errors(node: Any, fake: FakeUpstreams) -> None:
    client = await node()
    _, headers = await make_user(client)
    await error_of(await client.post("/api/favorites", json={"movie_id": "tv-3"}), 401)
    await error_of(await client.get("/api/favorites"), 401)
    bad = await client.post("/api/favorites", json={"movie_id": "x-3"}, headers=headers)
    assert "movie_id" in (await error_of(bad, 400))["field_errors"]
    extra = await client.post("/api/favorites", json={"movie_id": "3", "x": 1}, headers=headers)
    await error_of(extra, 400)
    missing = await client.post("/api/favorites", json={"movie_id": "tv-999"}, headers=headers)
    await error_of(missing, 404)
    fake.fail_status = 500
    down = await client.post("/api/favorites", json={"movie_id": "movie-50"}, headers=headers)
    assert (await error_of(down, 503))["code"] == "SERVICE_UNAVAILABLE"


async def test_watch_history_updates_in_place_and_reaches_other_devices(node: Any) -> None:
    client = await node()
    (alice, a_headers), (_, b_headers) = await make_users(client, 2)

    async def report(movie_id: str, progress: float, runtime: float, **extra: Any) -> Any:
        payload = {"movie_id": movie_id, "progress": progress, "runtime": runtime, **extra}
        resp = await client.post("/api/watch-history", json=payload, headers=a_headers)
        assert resp.status == 200, await resp.text()
        return (await resp.json())["entry"]

    first = await report("movie-5", 600, 5700)
    assert first["progress_percent"] == 10.5 and first["finished"] is False
    await report("tv-2", 100, 2520)
    moved = await report("movie-5", 1200.5, 5700, device_id="phone-1")
    assert moved["watched_at"] > first["watched_at"] and moved["remaining_seconds"] == 4499.5

    listed = await ok(client_with(client, a_headers), "/api/watch-history")
    assert [e["id"] for e in listed["history"]] == ["movie-5", "tv-2"]  # one entry per title
    assert listed["history"][0]["progress"] == 1200.5
    assert listed["history"][0]["movie"]["title"] == "Movie 5"

    sent = events(client, f"user:{alice.id}")
    assert [(e["type"], e["movie_id"], e["progress"]) for e in sent] == [
        ("watch_progress", "movie-5", 600.0),
        ("watch_progress", "tv-2", 100.0),
        ("watch_progress", "movie-5", 1200.5),
    ]
    assert sent[-1]["device_id"] == "phone-1" and sent[-1]["watched_at"]

    await report("tv-2", 2500, 2520)  # finished: left out of "continue watching"
    unfinished = await ok(client_with(client, a_headers), "/api/watch-history?unfinished=true")
    assert [e["id"] for e in unfinished["history"]] == ["movie-5"]

    bob_view = await ok(client_with(client, b_headers), "/api/watch-history")
    assert bob_view["history"] == []
    await error_of(await client.delete("/api/watch-history/movie-5", headers=b_headers), 404)
    assert (await client.delete("/api/watch-history/movie-5", headers=a_headers)).status == 200
    left = await ok(client_with(client, a_headers), "/api/watch-history")
    assert [e["id"] for e in left["history"]] == ["tv-2"]

    past_end = await report("movie-5", 5710, 5700)  # a player's last report, past the end
    assert past_end["progress"] == 5700 and past_end["finished"] is True
    negative = {"movie_id": "movie-5", "progress": -1, "runtime": 5}
    await error_of(await client.post("/api/watch-history", json=negative, headers=a_headers), 400)


async def test_admin_stats_users_and_cache_clear(node: Any, fake: FakeUpstreams) -> None:
    client = await node()
    _, admin = await make_user(client, role="admin")
    (_, user), *_ = await make_users(client, 3, prefix="viewer")
    await client.post("/api/favorites", json={"movie_id": "7"}, headers=user)
    await client.post(
        "/api/watch-history", json={"movie_id": "7", "progress": 1, "runtime": 60}, headers=user
    )
    await ok(client, "/api/movies/7", "HIT")
    await ok(client, "/api/movies/7/stream")
    await ok(client, "/api/search?q=movie")

    await error_of(await client.get("/api/admin/stats", headers=user), 403)
    await error_of(await client.get("/api/admin/stats"), 401)
    stats = await ok(client_with(client, admin), "/api/admin/stats")
    assert (stats["users"], stats["favorites"], stats["history_entries"]) == (4, 1, 1)
    assert stats["catalogue"]["source"] == "tmdb" and stats["catalogue"]["titles_stored"] == 1
    assert stats["catalogue"]["cached_entries"]["streams"] == 1
    assert stats["cache"]["hits"] >= 2 and stats["cache"]["misses"] >= 3
    assert 0 < stats["cache"]["hit_ratio"] < 1
    assert stats["upstream"]["tmdb"]["calls"] == fake.tmdb_calls()
    assert stats["upstream"]["consumet"]["calls"] == 2 and stats["upstream"]["tmdb"]["errors"] == 0

    scraped = await (await client.get("/metrics")).text()
    assert (
        f'streamhub_catalogue_upstream_calls_total{{provider="tmdb"}} {fake.tmdb_calls()}.0'
        in scraped
    )
    assert 'streamhub_catalogue_upstream_calls_total{provider="consumet"} 2.0' in scraped
    assert 'streamhub_catalogue_cache_reads_total{outcome="miss"}' in scraped

    users = await ok(client_with(client, admin), "/api/admin/users?q=viewer&limit=2")
    assert users["pagination"]["total_items"] == 3 and len(users["users"]) == 2
    assert users["users"][0]["is_admin"] is False

    cleared = await client.post("/api/admin/cache/clear", json={"kind": "streams"}, headers=admin)
    assert (await cleared.json())["deleted"] == 1
    await ok(client, "/api/movies/7", "HIT")  # metadata untouched
    await ok(client, "/api/movies/7/stream", "MISS")
    everything = await client.post("/api/admin/cache/clear", headers=admin)
    assert (await everything.json())["kind"] == "all"
    await ok(client, "/api/movies/7", "MISS")
    refused = await client.post("/api/admin/cache/clear", json={"kind": "users"}, headers=admin)
    await error_of(refused, 400)
    # Users' data is not cache: the favorite survives.
    assert len((await ok(client_with(client, user), "/api/favorites"))["favorites"]) == 1


class client_with:
    """`client` sending `headers` on every GET (for `ok`)."""

    def __init__(self, client: Any, headers: dict[str, str]) -> None:
        self.client, self.headers = client, headers

    def get(self, path: str) -> Any:
        return self.client.get(path, headers=self.headers)
