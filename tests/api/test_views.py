"""Views: deduplicated per viewer and window, buffered in Redis, flushed exactly once."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from handlers.videos.routes import SERVICE as VIDEOS
from handlers.videos.view_buffer import ViewBuffer
from server.app import DB, REDIS, create_app
from storage import integrity
from storage.videos import videos
from tests.conftest import make_settings
from tests.content import create_video, error_of, events, make_user, make_users
from tests.jobs_support import running_worker
from tests.waiting import wait_for


@pytest.fixture
async def client(aiohttp_client: Any, engines: Any) -> TestClient:
    """The app with a flusher that never fires on its own: each test flushes when it wants."""
    settings = make_settings(engines, VIEW_FLUSH_INTERVAL_SECONDS=3600)
    return await aiohttp_client(create_app(settings))


async def flush(client: TestClient, *, recover_after: float = 30.0) -> int:
    applied: int = await client.app[VIDEOS].views.flush(
        client.app[DB], recover_after_seconds=recover_after
    )
    return applied


async def db_views(client: TestClient, video_id: str) -> int:
    count: int = await client.app[DB].fetchval(
        "SELECT view_count FROM videos WHERE id = $1", uuid.UUID(video_id)
    )
    return count


async def view(client: TestClient, video_id: str, **kwargs: Any) -> int:
    resp = await client.post(f"/api/videos/{video_id}/view", **kwargs)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["success"] is True
    count: int = body["new_view_count"]
    return count


async def test_same_viewer_counts_once_per_window(client: TestClient) -> None:
    _, author = await make_user(client, role="creator")
    video = await create_video(client, author)
    (_, alice), (_, bob) = await make_users(client, 2)
    assert await view(client, video["id"], headers=alice) == 1
    assert await view(client, video["id"], headers=alice, json={"watch_time_seconds": 30}) == 1
    assert await view(client, video["id"], headers=bob) == 2
    # An anonymous viewer is their address, whatever user agent they send.
    assert await view(client, video["id"], headers={"User-Agent": "tv"}) == 3
    assert await view(client, video["id"], headers={"User-Agent": "tv"}) == 3
    assert await view(client, video["id"], headers={"User-Agent": "phone"}) == 3


async def test_one_address_is_one_anonymous_viewer_whatever_its_user_agent(
    client: TestClient,
) -> None:
    _, author = await make_user(client, role="creator")
    video = await create_video(client, author)
    counts = [
        await view(client, video["id"], headers={"User-Agent": f"agent-{i}"}) for i in range(20)
    ]
    assert counts == [1] * 20
    # Signed-in viewers on the same address are each their account.
    for i, (_, headers) in enumerate(await make_users(client, 3)):
        assert await view(client, video["id"], headers=headers) == 2 + i
    await flush(client)
    got = await (await client.get(f"/api/videos/{video['id']}")).json()
    assert got["view_count"] == 4
    # Trending moved by those four views only.
    score = await client.app[DB].fetchval(
        "SELECT trending_score FROM videos WHERE id = $1", uuid.UUID(video["id"])
    )
    four_views = await client.app[DB].fetchval(
        "SELECT trending_bump(trending_bump(NULL, 1, now()), 4, now())"
    )
    assert score <= four_views + 1e-6


async def test_anonymous_views_per_address_are_capped_per_window(
    aiohttp_client: Any, engines: Any
) -> None:
    settings = make_settings(
        engines,
        VIEW_FLUSH_INTERVAL_SECONDS=3600,
        VIEW_MAX_ANONYMOUS_PER_IP=3,
        TRUSTED_PROXIES="127.0.0.1",
    )
    client = await aiohttp_client(create_app(settings))
    _, author = await make_user(client, role="creator")
    made = [(await create_video(client, author))["id"] for _ in range(5)]

    def from_ip(ip: str) -> dict[str, Any]:
        return {"headers": {"X-Forwarded-For": ip}}

    counts = [await view(client, v, **from_ip("198.51.100.7")) for v in made]
    assert counts == [1, 1, 1, 0, 0]  # three views a window, then answered but not counted
    # Watching again what was counted spends nothing; the cap is per address.
    assert await view(client, made[0], **from_ip("198.51.100.7")) == 1
    assert await view(client, made[4], **from_ip("198.51.100.8")) == 1
    # An IPv6 client is its /64: rotating addresses inside it buys nothing.
    assert await view(client, made[4], **from_ip("2001:db8:1:2::1")) == 2
    assert await view(client, made[4], **from_ip("2001:db8:1:2:ffff::9")) == 2
    assert await view(client, made[4], **from_ip("2001:db8:1:3::1")) == 3
    # Signed-in viewers are their accounts, uncapped by their address.
    _, fan = await make_user(client)
    assert await view(client, made[3], headers={**fan, "X-Forwarded-For": "198.51.100.7"}) == 1


async def test_views_are_buffered_then_flushed(client: TestClient) -> None:
    author_user, author = await make_user(client, role="creator")
    video = await create_video(client, author)
    viewers = await make_users(client, 5)
    for _, headers in viewers:
        await view(client, video["id"], headers=headers, json={"watch_time_seconds": 60})
    assert await db_views(client, video["id"]) == 0  # the hot path never touched the row
    got = await (await client.get(f"/api/videos/{video['id']}")).json()
    assert got["view_count"] == 5  # the buffer is included
    assert await flush(client) == 1
    assert await db_views(client, video["id"]) == 5
    got = await (await client.get(f"/api/videos/{video['id']}")).json()
    assert got["view_count"] == 5
    assert got["metrics"]["watch_time_minutes"] == 5.0
    me = await (await client.get("/api/auth/me", headers=author)).json()
    assert me["profile"]["total_views"] == 5
    assert await flush(client) == 0  # nothing pending
    assert set((await integrity.drift(client.app[DB])).values()) == {0}
    assert author_user.id


async def test_concurrent_views_all_count(client: TestClient) -> None:
    _, author = await make_user(client, role="creator")
    video = await create_video(client, author)
    viewers = await make_users(client, 40)
    counts = await asyncio.gather(*(view(client, video["id"], headers=h) for _, h in viewers))
    assert sorted(counts) == list(range(1, 41))
    await flush(client)
    assert await db_views(client, video["id"]) == 40


async def test_a_node_dying_mid_flush_loses_nothing_and_counts_nothing_twice(
    client: TestClient,
) -> None:
    _, author = await make_user(client, role="creator")
    video = await create_video(client, author)
    counter: ViewBuffer = client.app[VIDEOS].views
    pool = client.app[DB]
    for i in range(3):
        await counter.record(uuid.UUID(video["id"]), f"viewer-{i}")

    # Node A moves the pending views to its batch, then dies before applying it.
    orphan = await counter.start_batch()
    assert orphan is not None
    await counter.record(uuid.UUID(video["id"]), "viewer-late")  # lands in a new pending hash
    assert await view(client, video["id"], headers={"User-Agent": "x"}) == 5  # batch still counted

    # Node B flushes: the orphan is recovered once stale (here: at once) and applied once.
    assert await flush(client, recover_after=0) == 2
    assert await db_views(client, video["id"]) == 5

    # Node C applied a batch and died before deleting it: the retry is recognised.
    await counter.record(uuid.UUID(video["id"]), "viewer-again")
    batch = await counter.start_batch()
    assert batch is not None
    raw = await client.app[REDIS].hgetall(batch)
    # The apply half of apply_batch, without the Redis cleanup that follows it.
    views = {uuid.UUID(k.decode()[2:]): int(v) for k, v in raw.items() if k.startswith(b"v:")}
    assert await videos.apply_views(pool, batch_id=batch, views=views, watch_seconds={})
    assert await db_views(client, video["id"]) == 6
    assert await flush(client, recover_after=0) == 0  # recovered, recognised, not re-applied
    assert await db_views(client, video["id"]) == 6
    assert await client.app[REDIS].scard("views:batches") == 0


async def test_the_periodic_flush_job_applies_views_and_a_stopped_node_loses_none(
    aiohttp_client: Any, engines: Any
) -> None:
    """Views buffered in Redis reach Postgres through the `views.flush` job of whichever
    worker runs it. A node that stops keeps nothing in memory: its buffered views are in
    Redis, and the next flush (by any worker) applies them."""
    app = create_app(make_settings(engines, VIEW_FLUSH_INTERVAL_SECONDS=0.05))
    client = await aiohttp_client(app)
    _, author = await make_user(client, role="creator")
    video = await create_video(client, author)
    await view(client, video["id"])

    other = await aiohttp_client(create_app(make_settings(engines)))
    _, viewer = await make_user(other)  # a second viewer (signed in: counted by account)
    await view(other, video["id"], headers=viewer)
    await other.close()  # its buffered view stays in Redis

    async def both_flushed() -> bool:
        return await db_views(client, video["id"]) == 2

    async with running_worker(app):
        await wait_for(both_flushed, message="buffered views flushed by the job")
    assert set((await integrity.drift(client.app[DB])).values()) == {0}


async def test_view_publishes_video_update(client: TestClient) -> None:
    _, author = await make_user(client, role="creator")
    video = await create_video(client, author)
    await view(client, video["id"])
    await view(client, video["id"])  # deduplicated: no second event
    updates = events(client, f"video:{video['id']}")
    assert updates == [
        {
            "type": "video_update",
            "video_id": video["id"],
            "data": {"view_count": 1, "like_count": 0, "dislike_count": 0, "comment_count": 0},
        }
    ]


async def test_view_errors(client: TestClient) -> None:
    _, author = await make_user(client, role="creator")
    private = await create_video(client, author, visibility="private")
    await error_of(await client.post(f"/api/videos/{uuid.uuid4()}/view"), 404)
    await error_of(await client.post("/api/videos/nope/view"), 400)
    await error_of(await client.post(f"/api/videos/{private['id']}/view"), 404)
    resp = await client.post(
        f"/api/videos/{private['id']}/view", json={"watch_time_seconds": -1}, headers=author
    )
    assert "watch_time_seconds" in (await error_of(resp, 400))["field_errors"]
    bad = {"Authorization": "Bearer expired.or.bogus"}
    await error_of(await client.post(f"/api/videos/{private['id']}/view", headers=bad), 401)
    assert await view(client, private["id"], headers=author) == 1  # the author may watch it


async def test_one_report_cannot_claim_more_than_the_video_holds(client: TestClient) -> None:
    _, author = await make_user(client, role="creator")
    video = await create_video(client, author, duration=120)
    _, viewer = await make_user(client)
    await view(client, video["id"], headers=viewer, json={"watch_time_seconds": 86_000})
    assert await flush(client) == 1
    got = await (await client.get(f"/api/videos/{video['id']}")).json()
    assert got["metrics"]["watch_time_minutes"] == 2.0
