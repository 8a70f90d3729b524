"""Likes of videos and comments: idempotent, and counts equal to rows under concurrency."""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

import asyncpg

from server.app import DB
from storage import integrity
from tests.content import create_video, error_of, events, make_user, make_users


async def like(client: Any, path: str, action: str, headers: dict[str, str]) -> dict[str, Any]:
    resp = await client.post(path, json={"action": action}, headers=headers)
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def rows(client: Any, target_id: str, action: str) -> int:
    count: int = await client.app[DB].fetchval(
        "SELECT count(*) FROM likes WHERE target_id = $1 AND action = $2",
        uuid.UUID(target_id),
        action,
    )
    return count


async def test_like_dislike_remove_are_idempotent(client: Any) -> None:
    _, author = await make_user(client, role="creator")
    video = await create_video(client, author)
    _, fan = await make_user(client)
    path = f"/api/videos/{video['id']}/like"
    expected = [
        ("like", "liked", 1, 0),
        ("like", "liked", 1, 0),
        ("dislike", "disliked", 0, 1),
        ("dislike", "disliked", 0, 1),
        ("remove", "none", 0, 0),
        ("remove", "none", 0, 0),
        ("like", "liked", 1, 0),
    ]
    for action, user_action, likes, dislikes in expected:
        assert await like(client, path, action, fan) == {
            "success": True, "user_action": user_action,
            "like_count": likes, "dislike_count": dislikes,
        }  # fmt: skip
    got = await (await client.get(f"/api/videos/{video['id']}")).json()
    assert (got["like_count"], got["dislike_count"]) == (1, 0)
    me = await (await client.get("/api/auth/me", headers=author)).json()
    assert me["profile"]["total_likes_received"] == 1
    update = events(client, f"video:{video['id']}")[-1]
    assert update["type"] == "video_update" and update["data"]["like_count"] == 1


async def test_like_errors(client: Any) -> None:
    _, author = await make_user(client, role="creator")
    video = await create_video(client, author)
    private = await create_video(client, author, visibility="private")
    _, fan = await make_user(client)
    path = f"/api/videos/{video['id']}/like"
    await error_of(await client.post(path, json={"action": "like"}), 401)
    error = await error_of(await client.post(path, json={"action": "love"}, headers=fan), 400)
    assert "action" in error["field_errors"]
    await error_of(await client.post(path, json={}, headers=fan), 400)
    for bad in (f"/api/videos/{uuid.uuid4()}/like", f"/api/videos/{private['id']}/like"):
        await error_of(await client.post(bad, json={"action": "like"}, headers=fan), 404)
    await error_of(
        await client.post("/api/videos/x/like", json={"action": "like"}, headers=fan), 400
    )
    missing_comment = f"/api/comments/{uuid.uuid4()}/like"
    await error_of(await client.post(missing_comment, json={"action": "like"}, headers=fan), 404)
    error = await error_of(
        await client.post("/api/comments/x/like", json={"action": "like"}, headers=fan), 400
    )
    assert error["code"] == "VALIDATION_ERROR"


async def test_comment_likes_and_user_interaction(client: Any) -> None:
    _, author = await make_user(client, role="creator")
    video = await create_video(client, author)
    (_, alice), (_, bob) = await make_users(client, 2)
    resp = await client.post(
        f"/api/videos/{video['id']}/comments", json={"content": "nice"}, headers=alice
    )
    comment = await resp.json()
    path = f"/api/comments/{comment['id']}/like"
    assert (await like(client, path, "like", bob))["like_count"] == 1
    assert (await like(client, path, "dislike", alice))["dislike_count"] == 1

    async def interaction(headers: dict[str, str] | None) -> dict[str, bool]:
        body = await (
            await client.get(f"/api/videos/{video['id']}/comments", headers=headers or {})
        ).json()
        result: dict[str, bool] = body["comments"][0]["user_interaction"]
        return result

    assert await interaction(bob) == {"liked": True, "disliked": False}
    assert await interaction(alice) == {"liked": False, "disliked": True}
    assert await interaction(None) == {"liked": False, "disliked": False}
    published = events(client, f"video:{video['id']}")[-1]
    assert published["type"] == "comment_updated"
    assert published["comment"]["like_count"] == 1 and published["comment"]["dislike_count"] == 1


async def test_200_concurrent_clients_keep_counts_equal_to_rows(client: Any) -> None:
    _, author = await make_user(client, role="creator")
    video = await create_video(client, author)
    resp = await client.post(
        f"/api/videos/{video['id']}/comments", json={"content": "hot take"}, headers=author
    )
    comment = await resp.json()
    people = await make_users(client, 200)
    rng = random.Random(7)
    video_path = f"/api/videos/{video['id']}/like"
    comment_path = f"/api/comments/{comment['id']}/like"

    async def storm(headers: dict[str, str]) -> None:
        # Several actions per client, sent at once, so one user's actions also race each other.
        actions = [rng.choice(["like", "dislike", "remove"]) for _ in range(3)]
        await asyncio.gather(
            *(like(client, video_path, action, headers) for action in actions),
            like(client, comment_path, rng.choice(["like", "dislike", "remove"]), headers),
        )

    await asyncio.gather(*(storm(headers) for _, headers in people))

    got = await (await client.get(f"/api/videos/{video['id']}")).json()
    assert got["like_count"] == await rows(client, video["id"], "like")
    assert got["dislike_count"] == await rows(client, video["id"], "dislike")
    assert got["like_count"] + got["dislike_count"] > 0
    listed = await (await client.get(f"/api/videos/{video['id']}/comments")).json()
    assert listed["comments"][0]["like_count"] == await rows(client, comment["id"], "like")
    assert listed["comments"][0]["dislike_count"] == await rows(client, comment["id"], "dislike")
    me = await (await client.get("/api/auth/me", headers=author)).json()
    assert me["profile"]["total_likes_received"] == got["like_count"]
    assert set((await integrity.drift(client.app[DB])).values()) == {0}


async def _wait_for_lock_waiters(conn: asyncpg.Connection, n: int) -> None:
    async with asyncio.timeout(10):
        while await conn.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted") < n:  # noqa: ASYNC110 - polling another server
            await asyncio.sleep(0.02)


async def test_comment_like_racing_a_video_delete_leaves_no_orphan(
    client: Any, engines: Any
) -> None:
    """A like waiting on a comment row while the video is deleted finds the comment gone:
    `storage.videos.videos.delete` locks the comments before deleting their likes."""
    _, author_h = await make_user(client, role="creator")
    _, fan_h = await make_user(client)
    video = await create_video(client, author_h)
    resp = await client.post(
        f"/api/videos/{video['id']}/comments", json={"content": "hi"}, headers=author_h
    )
    assert resp.status == 201
    comment_id = (await resp.json())["id"]

    # A third transaction holds the comment row briefly so that the two requests below meet
    # in the order two concurrent requests can: the like first, the delete right behind it.
    holder = await asyncpg.connect(engines.database_url)
    watcher = await asyncpg.connect(engines.database_url)
    try:
        tx = holder.transaction()
        await tx.start()
        await holder.execute(
            "SELECT 1 FROM comments WHERE id = $1 FOR UPDATE", uuid.UUID(comment_id)
        )
        like = asyncio.ensure_future(
            client.post(f"/api/comments/{comment_id}/like", json={"action": "like"}, headers=fan_h)
        )
        await _wait_for_lock_waiters(watcher, 1)
        delete = asyncio.ensure_future(
            client.delete(f"/api/videos/{video['id']}", headers=author_h)
        )
        await _wait_for_lock_waiters(watcher, 2)
        await tx.rollback()
        like_resp, delete_resp = await asyncio.gather(like, delete)
        assert delete_resp.status == 200, await delete_resp.text()
        assert like_resp.status in (200, 404), await like_resp.text()
    finally:
        await holder.close()
        await watcher.close()

    drift = await integrity.drift(client.app[DB])
    assert drift["comments.orphan_likes"] == 0, drift


async def test_the_like_function_sees_videos_as_visible_to_does(client: Any) -> None:
    """The SQL function `react_to_video` checks visibility itself (one round trip); its rule
    must be `Video.visible_to`'s for every visibility, state and kind of caller."""
    from core.errors import NotFound
    from storage.videos import likes, videos

    author, _ = await make_user(client, role="creator")
    other, _ = await make_user(client)
    admin, _ = await make_user(client, role="admin")
    pool = client.app[DB]
    cases = 0
    for visibility in ("public", "unlisted", "private"):
        for status in ("uploaded", "processing", "ready", "error"):
            created = await videos.create(
                pool, author_id=author.id, fields={"title": "t", "visibility": visibility}
            )
            video_id = created.id
            await pool.execute(
                "UPDATE videos SET processing_status = $2 WHERE id = $1", video_id, status
            )
            video = await videos.get(pool, video_id)
            for caller in (author, other, admin):
                expected = video.visible_to(caller.id, caller.role)
                try:
                    await likes.react_to_video(
                        pool,
                        user_id=caller.id,
                        video_id=video_id,
                        action="like",
                        is_admin=caller.role == "admin",
                    )
                    allowed = True
                except NotFound:
                    allowed = False
                assert allowed is expected, (visibility, status, caller.role)
                cases += 1
    assert cases == 36
    assert set((await integrity.drift(pool)).values()) == {0}
