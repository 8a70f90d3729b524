"""Chaos: Redis goes away (stopped, or loading its dataset). A write Postgres committed answers
2xx with the counts Postgres has, and reads degrade the same way: never a 500."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from typing import Any

import asyncpg
import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import BusyLoadingError

from server.app import create_app
from tests.chaos.engines import own_redis, redis_pid
from tests.conftest import Accounts, make_settings

pytestmark = pytest.mark.timeout(120)


async def _video(client: Any, accounts: Accounts) -> tuple[str, dict[str, Any]]:
    creator = await accounts.register(role="creator")
    resp = await client.post(
        "/api/videos",
        json={"title": "outage", "video_url": "https://cdn.example.com/v.mp4"},
        headers=creator["headers"],
    )
    assert resp.status == 201, await resp.text()
    return (await resp.json())["id"], creator


async def _writes_and_reads_answer(
    client: Any, database_url: str, video: str, creator: Any, fan: Any
) -> None:
    """Like, comment, view, edit, read and delete a comment, all while Redis is unusable."""
    like = await client.post(
        f"/api/videos/{video}/like", json={"action": "like"}, headers=fan["headers"]
    )
    assert like.status == 200, await like.text()
    assert (await like.json())["like_count"] == 1
    comment = await client.post(
        f"/api/videos/{video}/comments", json={"content": "still here"}, headers=fan["headers"]
    )
    assert comment.status == 201, await comment.text()
    # Stored once: a client was never told to retry a comment that was stored.
    assert await _comments(database_url, video) == 1
    view = await client.post(f"/api/videos/{video}/view", json={}, headers=fan["headers"])
    assert view.status == 200, await view.text()
    # Not counted (views are deduplicated in Redis): the count is the one Postgres has.
    assert (await view.json())["new_view_count"] == 0
    edit = await client.patch(
        f"/api/videos/{video}", json={"title": "edited in the dark"}, headers=creator["headers"]
    )
    assert edit.status == 200, await edit.text()
    read = await client.get(f"/api/videos/{video}")
    assert read.status == 200, await read.text()
    shown = await read.json()
    assert shown["title"] == "edited in the dark"
    assert (shown["like_count"], shown["comment_count"], shown["view_count"]) == (1, 1, 0)
    removed = await client.delete(
        f"/api/comments/{(await comment.json())['id']}", headers=fan["headers"]
    )
    assert removed.status == 200, await removed.text()


async def _comments(database_url: str, video: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM comments WHERE video_id = $1::uuid", video
        )
        return count
    finally:
        await conn.close()


async def test_committed_writes_answer_2xx_when_redis_is_stopped(
    aiohttp_client: Any, engines: Any, tmp_path: Any
) -> None:
    with own_redis(tmp_path / "redis") as redis_server:
        settings = make_settings(
            engines, REDIS_URL=redis_server.url, BROKER="redis", RATE_LIMIT_ENABLED=True
        )
        client = await aiohttp_client(create_app(settings))
        accounts = Accounts(client, engines.database_url)
        video, creator = await _video(client, accounts)
        fan = await accounts.register()
        redis_server.stop()

        await _writes_and_reads_answer(client, engines.database_url, video, creator, fan)
        assert (await client.get("/api/videos")).status == 200


async def _until_loading(url: str) -> None:
    """Wait until Redis answers LOADING (a client without retries sees BusyLoadingError)."""
    probe = Redis.from_url(url, retry=Retry(NoBackoff(), 0))
    try:
        async with asyncio.timeout(60):
            while True:
                try:
                    await probe.ping()
                except BusyLoadingError:
                    return
                await asyncio.sleep(0.05)
    finally:
        await probe.aclose()


async def _still_loading(url: str) -> bool:
    probe = Redis.from_url(url, retry=Retry(NoBackoff(), 0))
    try:
        await probe.ping()
    except BusyLoadingError:
        return True
    finally:
        await probe.aclose()
    return False


async def test_redis_loading_its_dataset_is_an_outage_too(
    aiohttp_client: Any, engines: Any, tmp_path: Any
) -> None:
    with own_redis(tmp_path / "redis") as redis_server:
        # A generous command deadline: this test is about LOADING answers, not slowness.
        settings = make_settings(engines, REDIS_URL=redis_server.url, REDIS_TIMEOUT_SECONDS=10)
        client = await aiohttp_client(create_app(settings))
        accounts = Accounts(client, engines.database_url)
        video, creator = await _video(client, accounts)
        fan = await accounts.register()

        admin = Redis.from_url(redis_server.url, socket_timeout=None)
        reload: asyncio.Task[Any] | None = None
        try:
            # A dataset Redis takes several seconds to load (12,000 keys, each delayed), and
            # answers other clients LOADING at every 2 MB it loads (uncompressed: 256 keys).
            await admin.execute_command("DEBUG", "POPULATE", 12_000, "filler", 8192)
            await admin.config_set("rdbcompression", "no")
            await admin.config_set("key-load-delay", 500)
            reload = asyncio.create_task(admin.execute_command("DEBUG", "RELOAD"))
            await _until_loading(redis_server.url)

            like = await client.post(
                f"/api/videos/{video}/like", json={"action": "like"}, headers=fan["headers"]
            )
            assert like.status == 200, await like.text()
            view = await client.post(f"/api/videos/{video}/view", json={}, headers=fan["headers"])
            assert view.status == 200, await view.text()
            assert (await view.json())["new_view_count"] == 0  # not counted: Redis cannot
            read = await client.get(f"/api/videos/{video}", headers=creator["headers"])
            assert read.status == 200, await read.text()
            assert (await read.json())["like_count"] == 1
            assert await _still_loading(redis_server.url), "the requests ran while it loaded"
        finally:
            if reload is not None:
                reload.cancel()
                with contextlib.suppress(BaseException):
                    await reload
            with contextlib.suppress(Exception):
                await admin.aclose()
            # A loading Redis handles SIGTERM only once loaded: this one is not needed again.
            os.kill(redis_pid(redis_server), signal.SIGKILL)
