"""Chaos: the node's Redis pub/sub connection is killed; its subscribers are told, and recover."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import Redis

from channels.node import REALTIME
from tests.ws_support import Hub, start_hub

pytestmark = pytest.mark.timeout(30)


def _comment(video: str, n: int) -> dict[str, Any]:
    return {"type": "new_comment", "video_id": video, "comment": {"n": n}}


async def _video(hub: Hub) -> str:
    account = await hub.accounts.register(role="creator")
    return await hub.create_video(account["user"]["id"])


async def test_pubsub_reconnect_sends_resync_and_history_fills_the_gap(
    aiohttp_client: Any, engines: Any
) -> None:
    async for node in start_hub(aiohttp_client, engines, "redis"):
        video = await _video(node)
        channel = f"video:{video}"
        broker = node.app[REALTIME].broker
        ws = await node.connect()
        assert (await ws.subscribe(channel))["type"] == "subscribed"
        seen = await broker.publish(channel, _comment(video, 0))
        assert (await ws.recv())["offset"] == seen

        admin = Redis.from_url(engines.redis_url)
        try:
            killed = await admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        finally:
            await admin.aclose()
        assert killed >= 1
        # The node reconnects after a short backoff: this lands in the gap.
        missed = await broker.publish(channel, _comment(video, 1))

        notice = await ws.recv_type("resync", seconds=10)
        assert notice == {
            "type": "resync", "channel": channel, "offset": seen, "reason": "broker_reconnect",
        }  # fmt: skip
        # Live delivery works again once the notice is out.
        after = await broker.publish(channel, _comment(video, 2))
        live = await ws.recv_type("new_comment")
        if live["offset"] == missed:  # only if Redis came back before that publish
            live = await ws.recv_type("new_comment")
        assert live["offset"] == after

        # Recovery as documented: subscribe again with the last offset seen before the gap.
        await ws.send({"type": "subscribe", "channel": channel, "since": seen, "id": 7})
        ack = await ws.recv_type("subscribed")
        assert ack["recovered"] is True and ack["offset"] == after
        replayed = [await ws.recv(), await ws.recv()]
        assert [m["offset"] for m in replayed] == [missed, after]
        assert [m["comment"]["n"] for m in replayed] == [1, 2]
        await ws.close()
