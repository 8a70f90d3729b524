"""Live streams over REST and presence: `live_stream` with viewers counted across sockets."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.ws_support import Hub, broker_name_fixture, hub_fixture  # noqa: F401 - fixtures

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
