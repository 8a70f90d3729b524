"""Delivery over real sockets: fan-out, filters, coalescing, recovery, slow consumers."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
import websockets
from redis.asyncio import Redis

from channels import frames as frames_module
from channels.node import REALTIME
from tests.ws_support import (  # noqa: F401 - fixtures
    Hub,
    broker_name_fixture,
    hub_fixture,
    start_hub,
)

pytestmark = pytest.mark.timeout(60)


async def _video(hub: Hub) -> str:
    account = await hub.accounts.register(role="creator")
    return await hub.create_video(account["user"]["id"])


def _update(video: str, **counts: int) -> dict[str, Any]:
    return {"type": "video_update", "video_id": video, "data": counts}


def _comment(video: str, n: int) -> dict[str, Any]:
    return {"type": "new_comment", "video_id": video, "comment": {"n": n}}


def _key(offset: str) -> tuple[int, int]:
    ms, seq = offset.split("-")
    return int(ms), int(seq)


async def test_fanout_encodes_once_and_filters_counters(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    video = await _video(hub)
    everything = [await hub.connect() for _ in range(3)]
    likes_only = await hub.connect()
    for ws in everything:
        await ws.subscribe(f"video:{video}")
    await likes_only.subscribe(f"video:{video}", events=["like_count"])
    encoded = []
    # The fan-out encodes through channels/frames.py (filtered_frame): count its encodes.
    original = frames_module.message_frame
    monkeypatch.setattr(frames_module, "message_frame", lambda m: encoded.append(m) or original(m))
    await hub.app[REALTIME].broker.publish(f"video:{video}", _comment(video, 1))
    for ws in everything:
        assert (await ws.recv())["comment"] == {"n": 1}
    assert (await likes_only.recv())["comment"] == {"n": 1}
    assert len(encoded) == 1, "one encode for four sockets"
    await hub.app[REALTIME].broker.publish(
        f"video:{video}", _update(video, view_count=5, like_count=2, comment_count=1)
    )
    assert (await likes_only.recv())["data"] == {"like_count": 2}
    assert (await everything[0].recv())["data"] == {
        "view_count": 5,
        "like_count": 2,
        "comment_count": 1,
    }
    assert len(encoded) == 3, "one encode per distinct filter"


async def test_a_field_filter_gets_no_frame_when_its_fields_did_not_change(hub: Hub) -> None:
    """Every `video_update` carries all four counters; `events: ["like_count"]` is sent one
    only when the likes changed."""
    video = await _video(hub)
    channel = f"video:{video}"
    everything, likes_only = await hub.connect(), await hub.connect()
    await everything.subscribe(channel)
    await likes_only.subscribe(channel, events=["like_count"])
    broker = hub.app[REALTIME].broker
    counts = {"view_count": 1, "like_count": 0, "dislike_count": 0, "comment_count": 0}
    await broker.publish(channel, _update(video, **counts))
    assert (await everything.recv())["data"] == counts
    assert (await likes_only.recv())["data"] == {"like_count": 0}, "the first tells the value"
    for views in range(2, 6):
        await broker.publish(channel, _update(video, **{**counts, "view_count": views}))
    await broker.publish(channel, _comment(video, 1))  # a marker after the view-only updates
    seen = [await everything.recv()]
    while seen[-1]["type"] != "new_comment":
        seen.append(await everything.recv())
    assert seen[-2]["data"] == {**counts, "view_count": 5}, "the others still get every update"
    assert (await likes_only.recv())["type"] == "new_comment", "no frame for views alone"
    await broker.publish(channel, _update(video, **{**counts, "view_count": 6, "like_count": 1}))
    assert (await likes_only.recv())["data"] == {"like_count": 1}
    for ws in (everything, likes_only):
        await ws.close()


async def test_a_field_filter_over_the_api_views_do_not_wake_a_likes_subscriber(hub: Hub) -> None:
    video = await _video(hub)
    channel = f"video:{video}"
    everything, likes_only = await hub.connect(), await hub.connect()
    await everything.subscribe(channel)
    await likes_only.subscribe(channel, events=["like_count"])
    fan = await hub.accounts.register()
    client = hub.accounts.client

    async def react(action: str) -> None:
        resp = await client.post(
            f"/api/videos/{video}/like", json={"action": action}, headers=fan["headers"]
        )
        assert resp.status == 200, await resp.text()

    await react("like")
    assert (await likes_only.recv())["data"] == {"like_count": 1}
    assert (await everything.recv())["data"]["like_count"] == 1
    viewed = await client.post(f"/api/videos/{video}/view", headers=fan["headers"])
    assert viewed.status == 200, await viewed.text()
    update = await everything.recv()  # the view was published (and sent on its own)
    assert update["data"] == {**update["data"], "view_count": 1, "like_count": 1}
    await react("remove")
    assert (await likes_only.recv())["data"] == {"like_count": 0}, "nothing for the view"
    for ws in (everything, likes_only):
        await ws.close()


async def test_bursts_coalesce_and_the_last_value_arrives(hub: Hub) -> None:
    video = await _video(hub)
    ws = await hub.connect()
    await ws.subscribe(f"video:{video}")
    broker = hub.app[REALTIME].broker
    for n in range(1, 101):
        await broker.publish(f"video:{video}", _update(video, view_count=n, like_count=0))
    received = []
    while not received or received[-1]["data"]["view_count"] != 100:
        received.append(await ws.recv_type("video_update"))
    assert len(received) < 100, "a burst is merged"
    counts = [m["data"]["view_count"] for m in received]
    assert counts == sorted(counts) and received[-1]["data"]["like_count"] == 0
    assert await ws.nothing_within(0.3), "nothing after the final value"


async def test_other_events_keep_offset_order_with_coalesced_updates(hub: Hub) -> None:
    video = await _video(hub)
    ws = await hub.connect()
    await ws.subscribe(f"video:{video}")
    broker = hub.app[REALTIME].broker
    for n in range(20):
        await broker.publish(f"video:{video}", _update(video, view_count=n))
        await broker.publish(f"video:{video}", _comment(video, n))
    comments, offsets = 0, []
    while comments < 20:
        message = await ws.recv()
        offsets.append(_key(message["offset"]))
        comments += message["type"] == "new_comment"
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)


async def test_reconnect_with_last_offset_replays_what_was_missed(hub: Hub) -> None:
    video = await _video(hub)
    channel = f"video:{video}"
    broker = hub.app[REALTIME].broker
    ws = await hub.connect()
    first_ack = await ws.subscribe(channel)
    await broker.publish(channel, _comment(video, 1))
    seen = await ws.recv()
    await ws.close()
    for n in range(2, 6):
        await broker.publish(channel, _comment(video, n))
    again = await hub.connect()
    ack = await again.subscribe(channel, since=seen["offset"])
    assert ack["type"] == "subscribed" and ack["recovered"] is True
    replayed = [await again.recv() for _ in range(4)]
    assert [m["comment"]["n"] for m in replayed] == [2, 3, 4, 5]
    assert ack["offset"] == replayed[-1]["offset"]
    await broker.publish(channel, _comment(video, 6))
    assert (await again.recv())["comment"]["n"] == 6, "then live, without duplicates"
    assert await again.nothing_within(0.2)
    # A client that saw nothing yet resumes from the ack's offset.
    fresh = await hub.connect()
    ack = await fresh.subscribe(channel, since=first_ack["offset"] or "0-0")
    assert ack["recovered"] is (first_ack["offset"] is not None)
    for ws in (again, fresh):
        await ws.close()


async def test_gap_beyond_history_gets_resync(
    broker_name: str, aiohttp_client: Any, engines: Any
) -> None:
    async for node in start_hub(aiohttp_client, engines, broker_name, HISTORY_SIZE=5):
        video = await _video(node)
        channel = f"video:{video}"
        broker = node.app[REALTIME].broker
        first = await broker.publish(channel, _comment(video, 0))
        for n in range(1, 300):  # Redis trims whole stream nodes (MAXLEN ~)
            await broker.publish(channel, _comment(video, n))
        ws = await node.connect()
        ack = await ws.subscribe(channel, since=first)
        assert ack["recovered"] is False
        resync = await ws.recv()
        assert resync == {
            "type": "resync", "channel": channel, "offset": ack["offset"],
            "reason": "history_trimmed",
        }  # fmt: skip
        await broker.publish(channel, _comment(video, 300))
        assert (await ws.recv())["comment"]["n"] == 300
        await ws.close()


async def test_slow_consumer_is_closed_and_others_continue(
    broker_name: str, aiohttp_client: Any, engines: Any
) -> None:
    async for node in start_hub(
        aiohttp_client, engines, broker_name, WS_MAX_PENDING_BYTES=256 * 1024, COALESCE_HZ=0
    ):
        video = await _video(node)
        channel = f"video:{video}"
        fast = await node.connect()
        await fast.subscribe(channel)
        slow = await websockets.connect(node.ws_url, max_queue=1, max_size=2**22)
        await slow.recv()  # hello
        await slow.send(orjson.dumps({"type": "subscribe", "channel": channel}).decode())
        await slow.recv()  # ack; from now on it stops reading
        broker = node.app[REALTIME].broker
        hub = node.app[REALTIME].hub
        blob = "x" * 32 * 1024
        # In step with the fast reader: the slow one's kernel buffers fill, then its unsent
        # bytes on the node pass the limit and the hub lets it go.
        for n in range(2000):
            await broker.publish(channel, {**_comment(video, n), "blob": blob})
            assert (await fast.recv_type("new_comment"))["comment"]["n"] == n
            if hub.local_count(channel) == 1:
                break
        assert hub.local_count(channel) == 1, "the slow consumer was detached"
        await broker.publish(channel, _comment(video, -1))
        assert (await fast.recv())["comment"]["n"] == -1, "the fast client goes on"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            async with asyncio.timeout(20):
                while True:
                    await slow.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4008
        assert closed.value.rcvd.reason == "slow consumer"
        await fast.close()


async def test_one_redis_subscription_per_channel_per_node(
    aiohttp_client: Any, engines: Any
) -> None:
    async for node in start_hub(aiohttp_client, engines, "redis"):
        video = await _video(node)
        sockets = [await node.connect() for _ in range(3)]
        for ws in sockets:
            await ws.subscribe(f"video:{video}")
        redis = Redis.from_url(engines.redis_url)
        try:
            assert await redis.pubsub_numsub(f"ch:video:{video}") == [
                (f"ch:video:{video}".encode(), 1)
            ]
            for ws in sockets:
                await ws.close()
            async with asyncio.timeout(5):
                while (await redis.pubsub_numsub(f"ch:video:{video}"))[0][1] != 0:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
        finally:
            await redis.aclose()


async def test_an_idle_pubsub_listener_outlives_the_redis_deadline(
    aiohttp_client: Any, engines: Any
) -> None:
    # Redis commands time out after 0.2 s; the node's pub/sub listener must not.
    async for node in start_hub(aiohttp_client, engines, "redis", REDIS_TIMEOUT_SECONDS=0.2):
        account = await node.accounts.register(role="creator")
        video = await node.create_video(account["user"]["id"])
        channel = f"video:{video}"
        ws = await node.connect()
        assert (await ws.subscribe(channel))["type"] == "subscribed"
        # Quiet for several deadlines: a listener cut by one would reconnect and send resync.
        assert await ws.nothing_within(1.0)
        await node.app[REALTIME].broker.publish(channel, {"type": "new_comment", "video_id": video})
        assert (await ws.recv())["type"] == "new_comment"
        await ws.close()
