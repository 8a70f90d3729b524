"""The /ws protocol over a real socket, against the memory and the Redis broker."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import websockets

from channels.node import REALTIME
from server.app import SETTINGS
from tests.ws_support import (  # noqa: F401 - fixtures
    Hub,
    WsClient,
    broker_name_fixture,
    hub_fixture,
    short_lived_token,
    start_hub,
)

pytestmark = pytest.mark.timeout(30)


async def _creator(hub: Hub) -> tuple[dict[str, Any], str]:
    account = await hub.accounts.register(role="creator")
    return account, account["tokens"]["access_token"]


async def test_hello_then_subscribe_ack_and_events(hub: Hub) -> None:
    account, _ = await _creator(hub)
    video = await hub.create_video(account["user"]["id"])
    ws = await hub.connect()
    assert ws.hello["type"] == "connected" and ws.hello["user_id"] is None
    ack = await ws.subscribe(
        f"video:{video}", events=["view_count", "like_count", "comment_count"], id=7
    )
    assert ack["type"] == "subscribed", ack
    assert ack["id"] == 7 and ack["channel"] == f"video:{video}"
    broker = hub.app[REALTIME].broker
    await broker.publish(
        f"video:{video}", {"type": "new_comment", "video_id": video, "comment": {"id": "c1"}}
    )
    message = await ws.recv()
    assert message["type"] == "new_comment" and message["comment"] == {"id": "c1"}
    assert message["video_id"] == video and message["channel"] == f"video:{video}"
    assert isinstance(message["offset"], str)
    await ws.close()


async def test_ping_unsubscribe_and_errors(hub: Hub) -> None:
    account, _ = await _creator(hub)
    video = await hub.create_video(account["user"]["id"])
    ws = await hub.connect()
    await ws.send({"type": "ping", "id": "p"})
    assert await ws.recv() == {"type": "pong", "id": "p"}
    await ws.send("not json")
    assert (await ws.recv())["code"] == "invalid_message"
    await ws.send({"type": "dance"})
    assert (await ws.recv())["code"] == "invalid_message"
    await ws.send({"type": "subscribe", "channel": f"video:{video}", "extra": 1, "id": 3})
    reply = await ws.recv()
    assert reply["code"] == "invalid_message" and reply["id"] == 3
    await ws.send(b"\x00binary")
    assert (await ws.recv())["code"] == "invalid_message"
    assert (await ws.subscribe("chat:lobby"))["code"] == "unknown_channel"
    assert (await ws.subscribe("video:not-a-uuid"))["code"] == "unknown_channel"
    assert (await ws.subscribe("video:00000000-0000-0000-0000-000000000000"))["code"] == "not_found"
    assert (await ws.subscribe(f"video:{video}", events=["dislikes"]))["code"] == "invalid_message"
    await ws.send({"type": "unsubscribe", "channel": f"video:{video}"})
    assert (await ws.recv())["code"] == "not_subscribed"
    assert (await ws.subscribe(f"video:{video}"))["type"] == "subscribed"
    await ws.send({"type": "unsubscribe", "channel": f"video:{video}", "id": 9})
    assert await ws.recv() == {"type": "unsubscribed", "channel": f"video:{video}", "id": 9}
    await hub.app[REALTIME].broker.publish(
        f"video:{video}", {"type": "new_comment", "video_id": video}
    )
    assert await ws.nothing_within(0.3)
    await ws.close()


async def test_token_by_header_query_or_message(hub: Hub) -> None:
    account, token = await _creator(hub)
    user_id = account["user"]["id"]
    by_header = await hub.connect(token=token)
    assert by_header.hello["user_id"] == user_id
    by_query = await hub.connect(token=token, query_token=True)
    assert by_query.hello["user_id"] == user_id
    by_message = await hub.connect()
    await by_message.send({"type": "auth", "token": token, "id": 1})
    authed = await by_message.recv()
    assert authed["type"] == "authenticated" and authed["user_id"] == user_id and authed["id"] == 1
    for ws in (by_header, by_query, by_message):
        assert (await ws.subscribe(f"user:{user_id}"))["type"] == "subscribed"
        await ws.close()


async def test_bad_tokens(hub: Hub) -> None:
    ws = await hub.connect()
    await ws.send({"type": "auth", "token": "garbage"})
    assert (await ws.recv())["code"] == "token_invalid"
    await ws.send({"type": "ping"})
    assert (await ws.recv())["type"] == "pong", "a bad auth message does not end the session"
    await ws.close()
    rejected = await connect_raw(hub, token="garbage")
    assert (await rejected.recv())["code"] == "token_invalid"
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await rejected.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_token_expiry_is_announced_then_closed_unless_renewed(
    broker_name: str, aiohttp_client: Any, engines: Any
) -> None:
    # A grace of seconds, not fractions: on a loaded machine the renewal must still land in it.
    async for node in start_hub(aiohttp_client, engines, broker_name, WS_TOKEN_GRACE_SECONDS=2):
        account = await node.accounts.register()
        settings = node.app[SETTINGS]
        user = account["user"]
        # Minted first, so its token expires no later than the lapsed one's.
        renewed = await node.connect(token=short_lived_token(settings, user, 3))
        lapsed = await node.connect(token=short_lived_token(settings, user, 3))
        notice = await renewed.recv_type("token_expired", seconds=30)
        assert notice["grace_seconds"] == 2
        await renewed.send({"type": "auth", "token": account["tokens"]["access_token"]})
        assert (await renewed.recv())["type"] == "authenticated"
        assert (await lapsed.recv_type("token_expired", seconds=30))["grace_seconds"] == 2
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await lapsed.recv(seconds=30)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        # The lapsed socket's grace is over, and the renewed one's ended no later: still open.
        assert await renewed.nothing_within(0.5), "a renewed session stays open"
        await renewed.send({"type": "ping"})
        assert (await renewed.recv())["type"] == "pong"
        other = await node.accounts.register()
        await renewed.send({"type": "auth", "token": other["tokens"]["access_token"]})
        assert (await renewed.recv())["code"] == "user_mismatch"
        await renewed.close()


async def test_channel_authorization(hub: Hub) -> None:
    author, author_token = await _creator(hub)
    admin = await hub.accounts.register(role="admin")
    stranger = await hub.accounts.register()
    private = await hub.create_video(author["user"]["id"], visibility="private")
    unlisted = await hub.create_video(author["user"]["id"], visibility="unlisted")
    anonymous = await hub.connect()
    assert (await anonymous.subscribe(f"video:{private}"))["code"] == "not_found"
    assert (await anonymous.subscribe(f"video:{unlisted}"))["type"] == "subscribed"
    assert (await anonymous.subscribe(f"user:{author['user']['id']}"))["code"] == "unauthorized"
    other = await hub.connect(token=stranger["tokens"]["access_token"])
    assert (await other.subscribe(f"video:{private}"))["code"] == "not_found"
    assert (await other.subscribe(f"user:{author['user']['id']}"))["code"] == "forbidden"
    for token in (author_token, admin["tokens"]["access_token"]):
        allowed = await hub.connect(token=token)
        assert (await allowed.subscribe(f"video:{private}"))["type"] == "subscribed"
        await allowed.close()
    for ws in (anonymous, other):
        await ws.close()


async def test_oversized_frames_are_refused(hub: Hub) -> None:
    ws = await hub.connect()
    limit = ws.hello["max_message_bytes"]
    await ws.send({"type": "ping", "id": "x" * limit})
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_subscription_limit(broker_name: str, aiohttp_client: Any, engines: Any) -> None:
    async for node in start_hub(aiohttp_client, engines, broker_name, WS_MAX_SUBSCRIPTIONS=2):
        account = await node.accounts.register(role="creator")
        videos = [await node.create_video(account["user"]["id"]) for _ in range(3)]
        ws = await node.connect()
        assert (await ws.subscribe(f"video:{videos[0]}"))["type"] == "subscribed"
        assert (await ws.subscribe(f"video:{videos[1]}"))["type"] == "subscribed"
        assert (await ws.subscribe(f"video:{videos[2]}"))["code"] == "too_many_subscriptions"
        assert (await ws.subscribe(f"video:{videos[1]}"))["type"] == "subscribed", "re-subscribe"
        await ws.close()


async def test_since_past_the_uint64_range_is_an_invalid_message(hub: Hub) -> None:
    """Offsets are Redis stream ids (two uint64): a larger `since` is the client's mistake."""
    account, _ = await _creator(hub)
    video = await hub.create_video(account["user"]["id"])
    ws = await hub.connect()
    top = 2**64 - 1
    for since in ("99999999999999999999-0", f"0-{top + 1}", f"{top + 1}-{top + 1}"):
        reply = await ws.subscribe(f"video:{video}", since=since, id="s")
        assert reply["type"] == "error" and reply["code"] == "invalid_message", reply
        assert reply["id"] == "s" and reply["errors"][0]["field"] == "subscribe.since"
    largest = await ws.subscribe(f"video:{video}", since=f"{top}-{top}", id="ok")
    assert largest["type"] == "subscribed", largest
    await ws.close()


async def connect_raw(hub: Hub, *, token: str) -> WsClient:
    """Connect without reading the hello (a rejected handshake token gets an error instead)."""
    conn = await websockets.connect(
        hub.ws_url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=5
    )
    return WsClient(conn)


async def test_an_events_filter_names_fields_of_the_channels_kind(hub: Hub) -> None:
    """`events` selects counters on `video:{id}`; `user:{id}` has nothing to select."""
    account, token = await _creator(hub)
    video = await hub.create_video(account["user"]["id"])
    ws = await hub.connect(token=token)
    refused = await ws.subscribe(f"video:{video}", events=["dislikes"], id=6)
    assert refused == {
        "type": "error",
        "code": "invalid_message",
        "message": "events must be a non-empty subset of "
        "['comment_count', 'dislike_count', 'like_count', 'view_count']",
        "id": 6,
        "unknown": ["dislikes"],
    }
    own = f"user:{account['user']['id']}"
    assert (await ws.subscribe(own, events=["like_count"]))["code"] == "invalid_message"
    assert (await ws.subscribe(own))["type"] == "subscribed"
    await ws.close()


async def test_a_frame_of_unknown_fields_gets_a_bounded_error(
    aiohttp_client: Any, engines: Any
) -> None:
    async for node in start_hub(aiohttp_client, engines, "memory"):
        ws = await node.connect()
        fields = {f"k{n:05d}": n for n in range(4_000)}
        frame = orjson.dumps({"type": "subscribe", "channel": "video:x", "id": 1, **fields})
        await ws.send(frame.decode())
        reply = await ws.recv()
        assert reply["code"] == "invalid_message" and reply["id"] == 1
        # At most 20 problems listed, and how many there were: never more than the frame.
        assert len(reply["errors"]) == 20 and reply["error_count"] == 4_000
        assert reply["errors"][0] == {
            "field": "subscribe.k00000", "message": "Extra inputs are not permitted",
        }  # fmt: skip
        assert len(orjson.dumps(reply)) < len(frame) // 10
        await ws.send({"type": "ping", "id": "still-open"})
        assert await ws.recv() == {"type": "pong", "id": "still-open"}
        await ws.close()
