"""`run.py seed --torrents N`: generated in Postgres, consistent with what ingest would make."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from devservices.stack import Engines
from server.app import DB
from storage import seed_torrents
from tests.content import make_user


async def test_seeded_torrents_are_whole_and_searchable(
    client: TestClient, engines: Engines
) -> None:
    await seed_torrents.seed(engines.database_url, 300, progress=lambda _: None)
    await seed_torrents.seed(engines.database_url, 200, progress=lambda _: None)  # adds more
    pool = client.app[DB]
    assert await pool.fetchval("SELECT count(*) FROM torrents") == 500
    mismatched = await pool.fetchval(
        """SELECT count(*) FROM torrents t WHERE t.file_count <> (
               SELECT count(*) FROM files f WHERE f.torrent_id = t.id)
           OR t.size <> (SELECT sum(size) FROM files f WHERE f.torrent_id = t.id)"""
    )
    assert mismatched == 0
    _, headers = await make_user(client)
    common = seed_torrents.VOCABULARY[0]
    resp = await client.get("/api/torrents/search", params={"q": common}, headers=headers)
    found = await resp.json()
    assert resp.status == 200 and found
    assert all(common in t["name"].lower() for t in found)
