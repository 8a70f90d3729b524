"""The torrent app (000) over real HTTP: API-key ingest, latest, search, detail, categories."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp.test_utils import TestClient

from devservices.stack import Engines
from server.app import create_app
from tests.conftest import make_settings
from tests.content import make_user

NOW = datetime.now(UTC).replace(microsecond=0)
TRACKER = "udp://tracker.example.org:1337/announce"


def info_hash(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()


def torrent(name: str, **fields: Any) -> dict[str, Any]:
    files = fields.pop("files", [{"path": f"{name}/{name}.mkv", "size": 1000}])
    return {
        "info_hash": info_hash(name),
        "name": name,
        "size": sum(f["size"] for f in files),
        "category": "movies",
        "seeders": 10,
        "leechers": 2,
        "seen_at": NOW.isoformat(),
        "trackers": [TRACKER],
        "files": files,
        "source": "scraper-1",
    } | fields


async def make_key(client: TestClient, admin: dict[str, str], name: str = "scraper") -> str:
    resp = await client.post("/api/admin/api-keys", json={"name": name}, headers=admin)
    assert resp.status == 201, await resp.text()
    key: str = (await resp.json())["key"]
    return key


async def ingest(client: TestClient, key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    resp = await client.post("/api/ingest", json={"torrents": items}, headers={"X-API-Key": key})
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


@pytest.fixture
async def admin(client: TestClient) -> dict[str, str]:
    return (await make_user(client, role="admin"))[1]


@pytest.fixture
async def reader(client: TestClient) -> dict[str, str]:
    return (await make_user(client))[1]


async def test_ingest_is_an_idempotent_upsert_by_info_hash(
    client: TestClient, admin: dict[str, str], reader: dict[str, str]
) -> None:
    key = await make_key(client, admin)
    batch = [torrent("Big.Buck.Bunny.1080p"), torrent("Sintel.2010.720p")]
    first = await ingest(client, key, batch)
    assert (first["created"], first["updated"], first["unchanged"], first["refused"]) == (
        2,
        0,
        0,
        0,
    )
    assert [r["status"] for r in first["results"]] == ["created", "created"]
    again = await ingest(client, key, batch)
    assert (again["created"], again["unchanged"]) == (0, 2)

    later = (NOW + timedelta(minutes=5)).isoformat()
    newer = await ingest(client, key, [torrent("Big.Buck.Bunny.1080p", seeders=99, seen_at=later)])
    assert newer["results"][0]["status"] == "updated"
    older = await ingest(client, key, [torrent("Big.Buck.Bunny.1080p", seeders=1)])
    assert older["results"][0]["status"] == "unchanged"  # an older sighting changes nothing

    resp = await client.get(f"/api/torrents/{first['results'][0]['id']}", headers=reader)
    detail = (await resp.json())["torrent"]
    assert (detail["seeders"], detail["file_count"]) == (99, 1)
    assert detail["files"] == [
        {"index": 0, "path": "Big.Buck.Bunny.1080p/Big.Buck.Bunny.1080p.mkv", "size": 1000}
    ]
    magnet = urlsplit(detail["magnet"])
    params = parse_qs(magnet.query)
    assert magnet.scheme == "magnet"
    assert params["xt"] == [f"urn:btih:{info_hash('Big.Buck.Bunny.1080p')}"]
    assert params["dn"] == ["Big.Buck.Bunny.1080p"] and params["tr"] == [TRACKER]


async def test_bad_items_are_refused_one_by_one(
    client: TestClient, admin: dict[str, str], reader: dict[str, str]
) -> None:
    key = await make_key(client, admin)
    good = torrent("Good.One")
    items = [
        good,
        torrent("Bad.Hash", info_hash="xyz"),
        torrent("Bad.Size", size=5),  # the files add up to 1000
        torrent("Bad.Category", category="warez"),
        torrent("Future", seen_at=(NOW + timedelta(days=1)).isoformat()),
        torrent("Naive.Time", seen_at="2026-01-01T00:00:00"),
        {"name": "no hash"},
        "not an object",
        torrent("Good.One", seeders=3),  # the same hash again: the last one counts
    ]
    body = await ingest(client, key, items)
    statuses = [r["status"] for r in body["results"]]
    assert statuses == ["refused"] * 8 + ["created"]
    errors = [r["errors"] for r in body["results"]]
    assert "info_hash" in errors[1] and "category" in errors[3] and "seen_at" in errors[4]
    assert "info_hash" in errors[0]  # sent again later
    resp = await client.get("/api/torrents/latest", headers=reader)
    [only] = await resp.json()
    assert (only["name"], only["seeders"]) == ("Good.One", 3)


async def test_ingest_needs_a_live_key_with_the_scope(
    client: TestClient, admin: dict[str, str], reader: dict[str, str]
) -> None:
    batch = {"torrents": [torrent("X")]}
    assert (await client.post("/api/ingest", json=batch)).status == 401
    wrong = {"X-API-Key": "shk_" + "x" * 43}
    assert (await client.post("/api/ingest", json=batch, headers=wrong)).status == 401
    # A user's JWT is not an API key.
    assert (await client.post("/api/ingest", json=batch, headers=reader)).status == 401

    key = await make_key(client, admin)
    listed = await (await client.get("/api/admin/api-keys", headers=admin)).json()
    [shown] = listed["api_keys"]
    assert key.startswith(shown["prefix"]) and "key" not in shown  # never shown again
    assert shown["last_used_at"] is None
    await ingest(client, key, [torrent("X")])
    listed = await (await client.get("/api/admin/api-keys", headers=admin)).json()
    assert listed["api_keys"][0]["last_used_at"] is not None

    resp = await client.delete(f"/api/admin/api-keys/{shown['id']}", headers=admin)
    assert resp.status == 200 and (await resp.json())["api_key"]["revoked_at"]
    resp = await client.post("/api/ingest", json=batch, headers={"X-API-Key": key})
    assert resp.status == 401
    # Only admins manage keys.
    assert (await client.get("/api/admin/api-keys", headers=reader)).status == 403
    resp = await client.post("/api/admin/api-keys", json={"name": "x"}, headers=reader)
    assert resp.status == 403


async def test_batch_limits(client: TestClient, admin: dict[str, str]) -> None:
    key = await make_key(client, admin)
    headers = {"X-API-Key": key}
    assert (await client.post("/api/ingest", json={"torrents": []}, headers=headers)).status == 400
    too_many = {"torrents": [{}] * 1001}
    assert (await client.post("/api/ingest", json=too_many, headers=headers)).status == 400


async def test_search_ranks_names_over_files_and_forgives_typos(
    client: TestClient, admin: dict[str, str], reader: dict[str, str]
) -> None:
    key = await make_key(client, admin)
    await ingest(
        client,
        key,
        [
            torrent("Ubuntu.24.04.Desktop.amd64", category="software", seeders=50),
            torrent(
                "Linux.Collection",
                category="software",
                seeders=500,
                files=[{"path": "isos/ubuntu-server.iso", "size": 10}],
            ),
            torrent("Cooking.Show.S01", category="tv", seeders=5),
        ],
    )

    async def names(**params: Any) -> tuple[list[str], dict[str, str]]:
        resp = await client.get("/api/torrents/search", params=params, headers=reader)
        assert resp.status == 200, await resp.text()
        return [t["name"] for t in await resp.json()], dict(resp.headers)

    found, headers = await names(q="ubuntu")
    assert found == ["Ubuntu.24.04.Desktop.amd64", "Linux.Collection"]  # name > file path
    assert headers["X-Search-Mode"] == "words" and headers["X-Total-Count"] == "2"
    assert (await names(q="ubuntu", sort="seeders"))[0][0] == "Linux.Collection"
    assert (await names(q="ubuntu desktop"))[0] == ["Ubuntu.24.04.Desktop.amd64"]
    found, headers = await names(q="ubunut desktop")  # a typo
    assert found == ["Ubuntu.24.04.Desktop.amd64"] and headers["X-Search-Mode"] == "fuzzy"
    assert (await names(q="cooking", category="software"))[0] == []
    assert (await names(q="ubuntu", min_seeders=100))[0] == ["Linux.Collection"]
    assert (await names(q="zzzzqqq"))[0] == []
    resp = await client.get("/api/torrents/search", params={"q": "  "}, headers=reader)
    assert resp.status == 400


async def test_latest_pages_by_offset_or_page(
    client: TestClient, admin: dict[str, str], reader: dict[str, str]
) -> None:
    key = await make_key(client, admin)
    await ingest(
        client,
        key,
        [torrent(f"T{i}", published_at=(NOW - timedelta(hours=i)).isoformat()) for i in range(5)],
    )
    resp = await client.get(
        "/api/torrents/latest", params={"limit": 2, "offset": 2}, headers=reader
    )
    assert [t["name"] for t in await resp.json()] == ["T2", "T3"]
    assert resp.headers["X-Total-Count"] == "5"
    assert 'rel="next"' in resp.headers["Link"] and 'rel="prev"' in resp.headers["Link"]
    resp = await client.get("/api/torrents/latest", params={"limit": 2, "page": 3}, headers=reader)
    assert [t["name"] for t in await resp.json()] == ["T4"]
    for params in ({"offset": 1, "page": 1}, {"offset": 10_001}, {"limit": 101}):
        resp = await client.get("/api/torrents/latest", params=params, headers=reader)
        assert resp.status == 400, params
    assert (await client.get("/api/torrents/latest")).status == 401  # 000: the app sends its JWT

    categories = await (await client.get("/api/categories")).json()
    counts = {c["slug"]: c["torrent_count"] for c in categories["categories"]}
    assert counts["movies"] == 5 and counts["tv"] == 0
    assert (await client.get("/api/torrents/not-a-uuid", headers=reader)).status == 400


async def test_ingest_is_rate_limited_per_key(aiohttp_client: Any, engines: Engines) -> None:
    client = await aiohttp_client(
        create_app(
            make_settings(
                engines,
                RATE_LIMIT_ENABLED=True,
                RATE_LIMIT_INGEST="2/minute",
                RATE_LIMIT_TIMEOUT_SECONDS=10,
            )
        )
    )
    _, admin = await make_user(client, role="admin")
    first, second = await make_key(client, admin, "a"), await make_key(client, admin, "b")
    batch = {"torrents": [torrent("X")]}

    async def status(key: str) -> int:
        resp = await client.post("/api/ingest", json=batch, headers={"X-API-Key": key})
        return resp.status

    assert [await status(first) for _ in range(3)] == [200, 200, 429]
    assert await status(second) == 200  # another key has its own budget
