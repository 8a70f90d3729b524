"""Live streams over REST and presence: `live_stream` with viewers counted across sockets."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from channels.presence import MemoryPresence, Presence, RedisPresence
from tests.jobs_support import running_worker
from tests.ws_support import (  # noqa: F401 - fixtures
    Hub,
    WsClient,
    broker_name_fixture,
    hub_fixture,
    start_hub,
)

pytestmark = pytest.mark.timeout(30)


async def _viewer_count(hub: Hub, video: str, expected: int) -> dict[str, Any]:
    """GET the live status until it shows `expected` viewers (presence writes are batched)."""
    async with asyncio.timeout(5):
        while True:
            resp = await hub.accounts.client.get(f"/api/videos/{video}/live")
            body: dict[str, Any] = await resp.json()
            if body["viewer_count"] == expected:
                return body
            await asyncio.sleep(0.05)


async def test_creator_goes_live_and_subscribers_hear_it(hub: Hub) -> None:
    creator = await hub.accounts.register(role="creator")
    video = await hub.create_video(creator["user"]["id"])
    viewers = [await hub.connect() for _ in range(3)]
    for ws in viewers:
        await ws.subscribe(f"video:{video}")
    body = await _viewer_count(hub, video, 3)
    assert body == {
        "type": "live_stream",
        "video_id": video,
        "status": "offline",
        "viewer_count": 3,
    }
    resp = await hub.accounts.client.post(
        f"/api/videos/{video}/live", json={"status": "live"}, headers=creator["headers"]
    )
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["status"] == "live"
    for ws in viewers:
        message = await ws.recv_type("live_stream")
        assert message["status"] == "live" and message["viewer_count"] == 3
        assert message["video_id"] == video
    await viewers[0].close()
    assert (await _viewer_count(hub, video, 2))["status"] == "live"
    resp = await hub.accounts.client.post(
        f"/api/videos/{video}/live", json={"status": "offline"}, headers=creator["headers"]
    )
    assert (await resp.json()) == {
        "type": "live_stream", "video_id": video, "status": "offline", "viewer_count": 2,
    }  # fmt: skip
    assert (await viewers[1].recv_type("live_stream"))["status"] == "offline"
    for ws in viewers[1:]:
        await ws.close()


async def test_only_the_author_sets_live(hub: Hub) -> None:
    creator = await hub.accounts.register(role="creator")
    other = await hub.accounts.register(role="creator")
    video = await hub.create_video(creator["user"]["id"])
    client = hub.accounts.client
    url = f"/api/videos/{video}/live"
    assert (await client.post(url, json={"status": "live"})).status == 401
    assert (await client.post(url, json={"status": "live"}, headers=other["headers"])).status == 403
    bad = await client.post(url, json={"status": "paused"}, headers=creator["headers"])
    assert bad.status == 400
    missing = "/api/videos/00000000-0000-0000-0000-000000000000/live"
    assert (
        await client.post(missing, json={"status": "live"}, headers=creator["headers"])
    ).status == 404


async def _pushed_count(ws: WsClient, expected: int) -> dict[str, Any]:
    """The next `live_stream` that shows `expected` viewers (earlier counts may come first)."""
    async with asyncio.timeout(30):  # generous: a loaded machine, not a slow server
        while True:
            message = await ws.recv_type("live_stream")
            if message["viewer_count"] == expected:
                return message


async def test_viewer_count_is_pushed_while_live(
    broker_name: str, aiohttp_client: Any, engines: Any
) -> None:
    async for hub in start_hub(
        aiohttp_client, engines, broker_name, LIVE_VIEWERS_INTERVAL_SECONDS=0.1
    ):
        # The push is the periodic job `live.viewer_counts` (handlers/live/jobs.py).
        async with running_worker(hub.app):
            creator = await hub.accounts.register(role="creator")
            video = await hub.create_video(creator["user"]["id"])
            channel = f"video:{video}"
            watcher = await hub.connect()
            await watcher.subscribe(channel)
            url = f"/api/videos/{video}/live"
            resp = await hub.accounts.client.post(
                url, json={"status": "live"}, headers=creator["headers"]
            )
            assert resp.status == 200
            assert (await _pushed_count(watcher, 1))["status"] == "live"
            others = [await hub.connect() for _ in range(2)]
            for ws in others:
                await ws.subscribe(channel)
            pushed = await _pushed_count(watcher, 3)  # no REST call: the count moved by itself
            assert pushed["status"] == "live" and pushed["video_id"] == video
            await others[0].close()
            await _pushed_count(watcher, 2)
            resp = await hub.accounts.client.post(
                url, json={"status": "offline"}, headers=creator["headers"]
            )
            assert (await _pushed_count(watcher, 2))["status"] == "offline"
            await others[1].close()
            # Offline: the count moves (to 1) but nothing is pushed any more.
            assert await watcher.nothing_within(0.5)
            await watcher.close()


async def _check_gate(presence: Presence) -> None:
    channel = f"video:{uuid.uuid4()}"
    assert await presence.claim_change(channel, 3, 60.0), "a first count is pushed"
    assert not await presence.claim_change(channel, 3, 0), "the same count is not pushed again"
    assert not await presence.claim_change(channel, 4, 60.0), "a change waits out the interval"
    assert await presence.claim_change(channel, 5, 0), "no interval: any change goes"


async def test_viewer_count_pushes_are_gated_per_channel(engines: Any) -> None:
    await _check_gate(MemoryPresence())
    redis_presence = RedisPresence(engines.redis_url, node_id="gate", heartbeat_s=5, ttl_s=15)
    await redis_presence.start()
    try:
        await _check_gate(redis_presence)
    finally:
        await redis_presence.close()
