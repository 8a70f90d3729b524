"""GET /api/videos through the per-node list cache (handlers/video_lists.py).

What is checked: writes through a node show at once on that node; private, unlisted and
unready videos never appear through the cache; totals stay right; another node's write shows
within the TTL (a fake clock, no waiting); the direct encoding equals the response model's.
"""

from __future__ import annotations

import uuid
from typing import Any

from core.ttl_cache import TtlCache
from handlers.videos.routes import SERVICE as VIDEOS
from server.app import DB, SETTINGS, create_app
from tests.conftest import make_settings
from tests.content import create_video, make_user


async def listed(client: Any, query: str = "") -> tuple[list[str], int]:
    resp = await client.get(f"/api/videos?{query}")
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    return [v["title"] for v in body["videos"]], body["pagination"]["total_items"]


async def insert_elsewhere(client: Any, author_id: uuid.UUID, title: str) -> None:
    """A listed video written straight to Postgres, as another node's request would."""
    await client.app[DB].execute(
        "INSERT INTO videos (author_id, title, processing_status, published_at)"
        " VALUES ($1, $2, 'ready', now())",
        author_id,
        title,
    )


async def test_a_write_through_this_node_shows_at_once(client: Any) -> None:
    _, headers = await make_user(client, role="creator")
    first = await create_video(client, headers, title="first")
    assert await listed(client) == (["first"], 1)
    await create_video(client, headers, title="second")
    assert await listed(client) == (["second", "first"], 2)
    resp = await client.patch(
        f"/api/videos/{first['id']}", json={"title": "renamed"}, headers=headers
    )
    assert resp.status == 200
    assert await listed(client) == (["second", "renamed"], 2)
    assert (await client.delete(f"/api/videos/{first['id']}", headers=headers)).status == 200
    assert await listed(client) == (["second"], 1)


async def test_private_unlisted_and_unready_videos_never_come_from_the_cache(client: Any) -> None:
    _, headers = await make_user(client, role="creator")
    public = await create_video(client, headers, title="public")
    await create_video(client, headers, title="unlisted", visibility="unlisted")
    await create_video(client, headers, title="private", visibility="private")
    await create_video(client, headers, title="draft", video_url=None)
    # Whatever a query matches, only the public ready video may appear in it.
    expected = {"": ["public"], "q=public": ["public"], "q=private": [], "sort=popular": ["public"],
                "limit=50": ["public"]}  # fmt: skip
    for query, titles in expected.items():
        assert (await listed(client, query))[0] == titles, query
    assert await listed(client) == (["public"], 1)  # now cached
    resp = await client.patch(
        f"/api/videos/{public['id']}", json={"visibility": "private"}, headers=headers
    )
    assert resp.status == 200
    assert await listed(client) == ([], 0)
    assert await listed(client, "q=public") == ([], 0)


async def test_another_nodes_write_shows_within_the_ttl(client: Any) -> None:
    author, headers = await make_user(client, role="creator")
    await create_video(client, headers, title="mine")
    now = [0.0]
    lists = client.app[VIDEOS].lists
    ttl = client.app[SETTINGS].list_cache_seconds
    assert ttl > 0
    lists.pages = TtlCache(ttl_seconds=ttl, max_weight=1 << 20, weigh=len, clock=lambda: now[0])
    lists.totals = TtlCache(ttl_seconds=ttl, max_weight=1 << 20, weigh=lambda _: 1)

    assert await listed(client) == (["mine"], 1)
    await insert_elsewhere(client, author.id, "theirs")
    assert await listed(client) == (["mine"], 1)  # this node's page, at most `ttl` old
    now[0] += ttl + 0.01
    assert await listed(client) == (["theirs", "mine"], 2)


async def test_totals_are_exact_past_the_first_page(client: Any) -> None:
    _, headers = await make_user(client, role="creator")
    for i in range(5):
        await create_video(client, headers, title=f"v{i}")
    assert await listed(client, "limit=2&page=1") == (["v4", "v3"], 5)
    assert await listed(client, "limit=2&page=3") == (["v0"], 5)  # a short page proves it
    assert await listed(client, "limit=2&page=9") == ([], 5)
    assert await listed(client, "limit=2&page=2&q=v2") == ([], 1)


async def test_with_the_cache_off_every_request_reads_postgres(
    aiohttp_client: Any, engines: Any
) -> None:
    client = await aiohttp_client(create_app(make_settings(engines, LIST_CACHE_SECONDS=0)))
    author, headers = await make_user(client, role="creator")
    await create_video(client, headers, title="mine")
    assert await listed(client) == (["mine"], 1)
    await insert_elsewhere(client, author.id, "theirs")
    assert await listed(client) == (["theirs", "mine"], 2)


async def test_a_page_is_never_older_than_the_total_it_carries(
    client: Any, aiohttp_client: Any, settings: Any, engines: Any
) -> None:
    """A page built with a cached total expires one TTL after that total was counted, so an
    answer never carries a total older than `LIST_CACHE_SECONDS`."""
    ttl = settings.list_cache_seconds
    assert ttl == 5.0
    now = [1000.0]
    lists = client.app[VIDEOS].lists
    lists.pages._clock = lists.totals._clock = lambda: now[0]  # deterministic time

    _, creator_h = await make_user(client, role="creator")
    await create_video(client, creator_h, title="one")
    await create_video(client, creator_h, title="two")

    # t = 0: a full page 2 (limit 1) makes this node load and cache the total (2).
    resp = await client.get("/api/videos", params={"limit": "1", "page": "2"})
    assert (await resp.json())["pagination"]["total_items"] == 2

    # Another node (its own cache) publishes a third video: this node is not told.
    other = await aiohttp_client(create_app(make_settings(engines)))
    other_creator_h = (await make_user(other, role="creator"))[1]
    await create_video(other, other_creator_h, title="three")

    # t = TTL - 0.1: page 1 is loaded now (fresh rows), with the cached total of t = 0.
    now[0] += ttl - 0.1
    await client.get("/api/videos", params={"limit": "1", "page": "1"})

    # t = 2 TTL - 1: every answer must reflect the database as of t - TTL at the latest,
    # when the third video had long been published.
    now[0] += ttl - 0.9
    body = await (await client.get("/api/videos", params={"limit": "1", "page": "1"})).json()
    assert body["videos"][0]["title"] == "three"
    assert body["pagination"]["total_items"] == 3, (
        f"total_items {body['pagination']['total_items']} is {2 * ttl - 1:.0f} s old "
        f"(TTL {ttl:.0f} s) and contradicts the page it is on"
    )
