"""A video write on any node clears every node's list cache (`internal:video-lists`).

What is checked: the internal router sends `internal:*` publications and broker gaps to their
callbacks and everything else to the hub; with two nodes on one Redis and a 300 s TTL, a video
made private or deleted through node A leaves node B's cached lists (bounded polling, so it is
the notice and not expiry); a pub/sub reconnect clears the lists; the memory broker takes the
same path; clients can neither subscribe to an internal channel nor receive its notices.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from channels import internal
from channels.node import REALTIME
from server.app import create_app
from tests.api.test_video_lists import insert_elsewhere, listed
from tests.conftest import make_settings
from tests.content import create_video, make_user
from tests.ws_support import (  # noqa: F401 - fixtures
    Hub,
    broker_name_fixture,
    hub_fixture,
)

pytestmark = pytest.mark.timeout(60)

LONG_TTL_S = 300  # far past every wait below: a change seen here was an invalidation
NOTICE_TIMEOUT_S = 10.0


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Poll `check` until it holds; fail after NOTICE_TIMEOUT_S."""
    async with asyncio.timeout(NOTICE_TIMEOUT_S):
        while not await check():  # noqa: ASYNC110 - polling another node over HTTP
            await asyncio.sleep(0.02)


async def redis_node(aiohttp_client: Any, engines: Any) -> Any:
    settings = make_settings(engines, BROKER="redis", LIST_CACHE_SECONDS=LONG_TTL_S)
    return await aiohttp_client(create_app(settings))


# --- the router, no I/O ------------------------------------------------------------------


# --- nodes -------------------------------------------------------------------------------


async def test_a_video_hidden_or_deleted_on_one_node_leaves_the_others_lists(
    aiohttp_client: Any, engines: Any
) -> None:
    node_a = await redis_node(aiohttp_client, engines)
    node_b = await redis_node(aiohttp_client, engines)
    author, headers = await make_user(node_a, role="creator")
    video = await create_video(node_a, headers, title="soon private")
    other = await create_video(node_a, headers, title="soon deleted")
    assert await listed(node_b) == (["soon deleted", "soon private"], 2)  # B caches it

    # B serves from its cache: a row written behind its back does not show.
    await insert_elsewhere(node_b, author.id, "unannounced")
    assert await listed(node_b) == (["soon deleted", "soon private"], 2)

    resp = await node_a.patch(
        f"/api/videos/{video['id']}", json={"visibility": "private"}, headers=headers
    )
    assert resp.status == 200

    async def hidden_on_b() -> bool:
        return await listed(node_b) == (["unannounced", "soon deleted"], 2)

    await eventually(hidden_on_b)

    assert (await node_a.delete(f"/api/videos/{other['id']}", headers=headers)).status == 200

    async def deleted_on_b() -> bool:
        return await listed(node_b) == (["unannounced"], 1)

    await eventually(deleted_on_b)


async def test_a_pubsub_reconnect_clears_the_lists(aiohttp_client: Any, engines: Any) -> None:
    """Notices sent while the connection was down are lost, so the node clears on its own."""
    node = await redis_node(aiohttp_client, engines)
    author, _ = await make_user(node, role="creator")
    # Both written straight to Postgres: a write through the node would publish a notice
    # whose arrival (at any later moment) would also clear the lists.
    await insert_elsewhere(node, author.id, "mine")
    assert await listed(node) == (["mine"], 1)
    await insert_elsewhere(node, author.id, "missed")
    assert await listed(node) == (["mine"], 1)

    admin = Redis.from_url(engines.redis_url)
    try:
        assert await admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub") >= 1
    finally:
        await admin.aclose()

    async def cleared() -> bool:
        return await listed(node) == (["missed", "mine"], 2)

    await eventually(cleared)


async def test_the_memory_broker_takes_the_same_path(client: Any) -> None:
    author, headers = await make_user(client, role="creator")
    await create_video(client, headers, title="mine")
    assert await listed(client) == (["mine"], 1)
    await insert_elsewhere(client, author.id, "theirs")
    assert await listed(client) == (["mine"], 1)
    await client.app[REALTIME].broker.publish(internal.VIDEO_LISTS, {"type": "video_lists_changed"})
    assert await listed(client) == (["theirs", "mine"], 2)


async def test_clients_cannot_subscribe_to_or_receive_internal_channels(hub: Hub) -> None:
    account = await hub.accounts.register(role="creator")
    video = await hub.create_video(account["user"]["id"])
    ws = await hub.connect()
    reply = await ws.subscribe(internal.VIDEO_LISTS, id=1)
    assert reply["type"] == "error" and reply["code"] == "unknown_channel", reply
    assert (await ws.subscribe(f"video:{video}"))["type"] == "subscribed"

    await hub.app[REALTIME].broker.publish(internal.VIDEO_LISTS, {"type": "video_lists_changed"})
    assert await ws.nothing_within(0.3)
    await ws.close()
