"""Playback progress reported on one node reaches the user's other device, connected to
another node, over `user:{id}` (OnStream: "a second screen can resume at the same second")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.catalogue_support import fake, node
from tests.content import make_users
from tests.ws_support import connect

__all__ = ["fake", "node"]  # fixtures


async def test_progress_reaches_the_other_screen_on_another_node(node: Any) -> None:
    phone_node, tv_node = await node(BROKER="redis"), await node(BROKER="redis")
    (alice, headers), (_, other_headers) = await make_users(phone_node, 2)
    ws_url = str(tv_node.server.make_url("/ws")).replace("http://", "ws://")
    tv = await connect(ws_url, token=headers["Authorization"].removeprefix("Bearer "))
    stranger = await connect(ws_url, token=other_headers["Authorization"].removeprefix("Bearer "))
    try:
        assert (await tv.subscribe(f"user:{alice.id}"))["type"] == "subscribed"
        refused = await stranger.subscribe(f"user:{alice.id}")
        assert refused["type"] == "error" and refused["code"] == "forbidden"
        report = {"movie_id": "tv-4", "progress": 754.25, "runtime": 2520, "device_id": "phone"}
        resp = await phone_node.post("/api/watch-history", json=report, headers=headers)
        assert resp.status == 200, await resp.text()
        event = await tv.recv_type("watch_progress")
        assert (event["movie_id"], event["progress"], event["device_id"]) == (
            "tv-4", 754.25, "phone",
        )  # fmt: skip
        assert event["channel"] == f"user:{alice.id}"
        saved = (await resp.json())["entry"]["watched_at"]
        assert datetime.fromisoformat(event["watched_at"]) == datetime.fromisoformat(saved)
    finally:
        await tv.close()
        await stranger.close()
