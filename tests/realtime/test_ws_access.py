"""Subscriptions lose their channel when the video turns hidden or is deleted.

Over a real /ws and REST against the memory and the Redis broker, across two nodes, and the
hub's subscribe/revoke race in isolation. A revoked socket gets `unsubscribed` with reason
`access_revoked`, nothing of the channel after it, and stays open; the control publication
itself never reaches a client, live or replayed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from channels.authz import access_event
from channels.broker import MemoryBroker
from channels.hub import Hub as ChannelHub
from channels.protocol import ACCESS_CHANGED, ErrorCode, ProtocolError
from channels.subscriptions import Connection
from tests.ws_support import (  # noqa: F401 - fixtures
    Hub,
    WsClient,
    broker_name_fixture,
    hub_fixture,
    start_hub,
)

pytestmark = pytest.mark.timeout(60)


def _revoked(channel: str) -> dict[str, Any]:
    return {"type": "unsubscribed", "channel": channel, "reason": "access_revoked"}


async def _video(hub: Hub, author: dict[str, Any]) -> str:
    resp = await hub.accounts.client.post(
        "/api/videos",
        json={"title": "soon private", "video_url": "https://cdn.example.com/v.mp4"},
        headers=author["headers"],
    )
    assert resp.status == 201, await resp.text()
    video_id: str = (await resp.json())["id"]
    return video_id


async def _comment(hub: Hub, video_id: str, author: dict[str, Any], text: str) -> None:
    resp = await hub.accounts.client.post(
        f"/api/videos/{video_id}/comments", json={"content": text}, headers=author["headers"]
    )
    assert resp.status == 201, await resp.text()


async def _still_open(ws: WsClient) -> None:
    await ws.send({"type": "ping", "id": "alive"})
    assert await ws.recv() == {"type": "pong", "id": "alive"}


async def test_ws_subscriber_is_dropped_when_video_turns_private(hub: Hub) -> None:
    """The reviewer's case: an anonymous socket subscribed while the video was public kept
    receiving its events (comment text included) after the author made it private."""
    author = await hub.accounts.register(role="creator")
    stranger = await hub.accounts.register()
    video_id = await _video(hub, author)
    channel = f"video:{video_id}"
    anonymous = await hub.connect()
    other = await hub.connect(token=stranger["tokens"]["access_token"])
    owner = await hub.connect(token=author["tokens"]["access_token"])
    for ws in (anonymous, other, owner):
        assert (await ws.subscribe(channel))["type"] == "subscribed"

    client = hub.accounts.client
    resp = await client.patch(
        f"/api/videos/{video_id}", json={"title": "still public"}, headers=author["headers"]
    )
    assert resp.status == 200, await resp.text()
    assert await anonymous.nothing_within(0.2), "an edit that keeps it public revokes nothing"

    resp = await client.patch(
        f"/api/videos/{video_id}", json={"visibility": "private"}, headers=author["headers"]
    )
    assert resp.status == 200, await resp.text()
    assert (await client.get(f"/api/videos/{video_id}")).status == 404
    fresh = await hub.connect()
    assert (await fresh.subscribe(channel))["code"] == "not_found"

    await _comment(hub, video_id, author, "private note")
    assert await anonymous.recv() == _revoked(channel)
    assert await other.recv() == _revoked(channel)
    seen = await owner.recv_type("new_comment")  # the author keeps the channel...
    assert seen["comment"]["content"] == "private note"
    # ...and the node handled the control event before that comment, so by now anything
    # the revoked sockets were going to get would be on its way.
    assert await anonymous.nothing_within(0.3)
    assert await other.nothing_within(0.3)
    for ws in (anonymous, other):
        await _still_open(ws)
        await ws.send({"type": "unsubscribe", "channel": channel})
        assert (await ws.recv())["code"] == "not_subscribed"
    for ws in (anonymous, other, owner, fresh):
        await ws.close()


async def test_revocation_reaches_subscribers_on_another_node(
    aiohttp_client: Any, engines: Any
) -> None:
    async for writer in start_hub(aiohttp_client, engines, "redis"):
        async for reader in start_hub(aiohttp_client, engines, "redis"):
            author = await writer.accounts.register(role="creator")
            video_id = await _video(writer, author)
            channel = f"video:{video_id}"
            anonymous = await reader.connect()
            owner = await reader.connect(token=author["tokens"]["access_token"])
            for ws in (anonymous, owner):
                assert (await ws.subscribe(channel))["type"] == "subscribed"

            resp = await writer.accounts.client.put(
                f"/api/videos/{video_id}",
                json={"visibility": "private"},
                headers=author["headers"],
            )
            assert resp.status == 200, await resp.text()
            await _comment(writer, video_id, author, "for my eyes")

            assert await anonymous.recv() == _revoked(channel)
            assert (await owner.recv_type("new_comment"))["comment"]["content"] == "for my eyes"
            assert await anonymous.nothing_within(0.3)
            await _still_open(anonymous)
            await anonymous.close()
            await owner.close()


async def test_deleting_a_video_drops_every_subscriber(hub: Hub) -> None:
    author = await hub.accounts.register(role="creator")
    video_id = await _video(hub, author)
    channel = f"video:{video_id}"
    anonymous = await hub.connect()
    owner = await hub.connect(token=author["tokens"]["access_token"])
    for ws in (anonymous, owner):
        assert (await ws.subscribe(channel))["type"] == "subscribed"
    resp = await hub.accounts.client.delete(f"/api/videos/{video_id}", headers=author["headers"])
    assert resp.status == 200, await resp.text()
    for ws in (anonymous, owner):
        assert await ws.recv() == _revoked(channel)
        await _still_open(ws)
        assert (await ws.subscribe(channel))["code"] == "not_found"
        await ws.close()


async def test_the_control_event_is_never_sent_live_or_replayed(hub: Hub) -> None:
    author = await hub.accounts.register(role="creator")
    video_id = await _video(hub, author)
    channel = f"video:{video_id}"
    await _comment(hub, video_id, author, "before the change")  # history has a start point
    owner = await hub.connect(token=author["tokens"]["access_token"])
    ack = await owner.subscribe(channel)
    assert ack["offset"] is not None
    resp = await hub.accounts.client.patch(
        f"/api/videos/{video_id}", json={"visibility": "private"}, headers=author["headers"]
    )
    assert resp.status == 200, await resp.text()
    await _comment(hub, video_id, author, "after the change")
    live = await owner.recv()
    assert live["type"] == "new_comment", "the control event before it was not sent"
    await owner.close()

    again = await hub.connect(token=author["tokens"]["access_token"])
    recovered = await again.subscribe(channel, since=ack["offset"])
    assert recovered["type"] == "subscribed" and recovered["recovered"] is True
    replayed = [await again.recv()]
    while replayed[-1]["offset"] != recovered["offset"]:
        replayed.append(await again.recv())
    assert ACCESS_CHANGED not in {m["type"] for m in replayed}
    assert [m["offset"] for m in replayed if m["type"] == "new_comment"] == [live["offset"]]
    await again.close()


# --- the hub alone: a subscribe that races an access change --------------------------------


class _Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0


def _revoking_hub() -> tuple[ChannelHub, MemoryBroker]:
    """A hub whose access listener revokes every subscriber (everyone lost access)."""

    def revoke_all(channel: str, _event: dict[str, Any]) -> None:
        for conn in hub.subscribers(channel):
            hub.revoke(conn, channel)

    broker = MemoryBroker()
    hub = ChannelHub(broker, max_pending_bytes=1 << 20, coalesce_hz=0, on_access=revoke_all)
    return hub, broker


def _conn() -> tuple[Connection, _Transport]:
    transport = _Transport()
    return Connection(None, transport), transport  # type: ignore[arg-type]


async def test_access_change_during_catch_up_fails_the_subscribe() -> None:
    hub, broker = _revoking_hub()
    await hub.start()
    channel = "video:00000000-0000-0000-0000-000000000001"
    conn, transport = _conn()
    checking = asyncio.Event()
    release = asyncio.Event()

    async def recheck() -> None:  # the database read that started before the change
        checking.set()
        await release.wait()

    subscribing = asyncio.create_task(
        hub.subscribe(conn, channel, None, None, 1, checked=None, recheck=recheck)
    )
    await asyncio.wait_for(checking.wait(), 5)
    await broker.publish(channel, access_event(None))
    await broker.publish(channel, {"type": "new_comment", "comment": {"content": "secret"}})
    release.set()
    assert await asyncio.wait_for(subscribing, 5) is False
    assert conn.subscriptions == {} and hub.subscribers(channel) == []
    assert transport.written == [], "no ack, no event: the session answers not_found"
    await hub.stop()


async def test_a_check_that_straddles_an_access_change_runs_again() -> None:
    hub, broker = _revoking_hub()
    await hub.start()
    channel = "video:00000000-0000-0000-0000-000000000002"
    first, _ = _conn()
    assert await hub.subscribe(first, channel, None, None, 1)  # the channel is live here
    mark = hub.access_mark(channel)
    assert mark is not None
    rechecks: list[str] = []

    async def recheck() -> None:
        rechecks.append(channel)
        raise ProtocolError(ErrorCode.not_found, "No such video")

    # Nothing happened since the mark: the caller's own check stands.
    second, _ = _conn()
    assert await hub.subscribe(second, channel, None, None, 2, checked=mark, recheck=recheck)
    assert rechecks == []
    # An access change arrives while a third socket's check is in flight: it checks again.
    await broker.publish(channel, access_event(None))
    third, _ = _conn()
    with pytest.raises(ProtocolError):
        await hub.subscribe(third, channel, None, None, 3, checked=mark, recheck=recheck)
    assert rechecks == [channel] and third.subscriptions == {}
    await hub.stop()
