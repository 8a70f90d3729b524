"""GDPR over real HTTP: erasing an account keeps every counter exact and other people's
threads whole, closes its sockets; the export holds everything it owned."""

from __future__ import annotations

import asyncio
from typing import Any

import websockets
from aiohttp.test_utils import TestClient

from server.app import DB
from storage import integrity
from storage.accounts.users import PLACEHOLDER_ID
from tests.api.test_courses import create_course
from tests.conftest import STRONG_PASSWORD, Accounts
from tests.content import create_video, make_users
from tests.ws_support import connect

V1 = "/api/v1"


async def comment(
    client: TestClient, headers: dict[str, str], video_id: str, text: str, parent: str | None = None
) -> str:
    body: dict[str, Any] = {"content": text}
    if parent:
        body["parent_comment_id"] = parent
    resp = await client.post(f"/api/videos/{video_id}/comments", json=body, headers=headers)
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["id"])


async def test_erasing_an_account(client: TestClient, accounts: Accounts) -> None:
    await accounts.register("alice")
    (bob, b), (carol, c) = await make_users(client, 2, role="creator")
    pool = client.app[DB]

    bobs_video = (await create_video(client, b))["id"]
    carols_video = (await create_video(client, c))["id"]
    # Alice registered as a plain user: make her a creator, so she owns a video too.
    await pool.execute("UPDATE users SET role = 'creator' WHERE username = 'alice'")
    resp = await client.post(
        "/api/auth/login", json={"login": "alice", "password": STRONG_PASSWORD}
    )
    login = await resp.json()
    a = {"Authorization": f"Bearer {login['tokens']['access_token']}"}
    refresh = login["tokens"]["refresh_token"]
    alices_video = (await create_video(client, a, title="mine"))["id"]

    # Follows both ways, likes given and received, comments everywhere.
    await client.post(f"/api/users/{bob.id}/follow", headers=a)
    await client.post(f"/api/users/{login['user']['id']}/follow", headers=c)
    await client.post(f"/api/videos/{bobs_video}/like", json={"action": "like"}, headers=a)
    await client.post(f"/api/videos/{alices_video}/like", json={"action": "like"}, headers=c)
    carols_comment = await comment(client, c, carols_video, "carol here")
    await client.post(f"/api/comments/{carols_comment}/like", json={"action": "dislike"}, headers=a)
    await comment(client, b, alices_video, "bob on alice's video")
    lone = await comment(client, a, bobs_video, "alice, nobody answers")
    answered = await comment(client, a, bobs_video, "alice, carol answers")
    carols_reply = await comment(client, c, bobs_video, "carol's reply", parent=answered)
    own_chain = await comment(client, a, carols_video, "alice thread")
    await comment(client, a, carols_video, "alice replies to herself", parent=own_chain)
    # Bob deletes a comment that only Alice answered: it stays, emptied, until her reply goes.
    bobs_comment = await comment(client, b, carols_video, "bob, deleted later")
    await comment(client, a, carols_video, "alice under bob", parent=bobs_comment)
    assert (await client.delete(f"/api/comments/{bobs_comment}", headers=b)).status == 200
    # Courses: Alice enrolls in Carol's; Bob in Alice's (a creator may teach).
    carols_course = await create_course(client, c)
    await client.post(f"{V1}/courses/{carols_course['id']}/enroll", headers=a)
    alices_course = await create_course(client, a)
    await client.post(f"{V1}/courses/{alices_course['id']}/enroll", headers=b)

    # OnStream: a favorite and a watch-history entry (the demo catalogue, as with no TMDb key).
    movie = await (await client.get("/api/movies", headers=a)).json()
    first = (movie.get("results") or movie.get("movies"))[0]
    title_id = str(first.get("id") or first.get("tmdb_id"))
    resp = await client.post("/api/favorites", json={"movie_id": title_id}, headers=a)
    assert resp.status in (200, 201), await resp.text()

    export = await client.get("/api/users/me/export", headers=a)
    assert export.status == 200
    assert "attachment" in export.headers["Content-Disposition"]
    archive = await export.json()
    assert archive["format"] == "streamhub-export/1"
    assert archive["account"]["username"] == "alice" and "password_hash" not in archive["account"]
    assert len(archive["comments"]) == 5 and len(archive["likes"]) == 2
    assert [v["id"] for v in archive["videos"]] == [alices_video]
    assert len(archive["following"]) == 1 and len(archive["followers"]) == 1
    assert len(archive["enrollments"]) == 1 and len(archive["courses_taught"]) == 1
    assert len(archive["sessions"]) == 2
    assert len(archive["favorites"]) == 1

    ws_url = str(client.make_url("/ws")).replace("http://", "ws://")
    socket = await connect(ws_url, token=a["Authorization"].split()[1])

    wrong = await client.delete("/api/users/me", json={"password": "Wr0ngPassword"}, headers=a)
    assert wrong.status == 403 and "password" in (await wrong.json())["error"]["field_errors"]
    resp = await client.delete("/api/users/me", json={"password": STRONG_PASSWORD}, headers=a)
    assert resp.status == 200, await resp.text()

    # Counters are exact everywhere.
    assert set((await integrity.drift(pool)).values()) == {0}
    bob_now = await pool.fetchrow(
        "SELECT follower_count, total_likes_received FROM users WHERE id = $1", bob.id
    )
    assert (bob_now["follower_count"], bob_now["total_likes_received"]) == (0, 0)
    carol_now = await pool.fetchval("SELECT following_count FROM users WHERE id = $1", carol.id)
    assert carol_now == 0
    assert (
        await pool.fetchval(
            "SELECT enrollment_count FROM courses WHERE id = $1", carols_course["id"]
        )
        == 0
    )
    assert (
        await pool.fetchval("SELECT count(*) FROM courses WHERE id = $1", alices_course["id"]) == 0
    )
    assert await pool.fetchval("SELECT count(*) FROM videos WHERE id = $1", alices_video) == 0
    assert await pool.fetchval("SELECT count(*) FROM favorites") == 0

    # Threads: the answered comment is emptied and anonymous; Carol's reply is still there.
    kept = await pool.fetchrow(
        "SELECT deleted, content, user_id, reply_count FROM comments WHERE id = $1", answered
    )
    assert (kept["deleted"], kept["content"], kept["user_id"], kept["reply_count"]) == (
        True, "", PLACEHOLDER_ID, 1,
    )  # fmt: skip
    assert await pool.fetchval("SELECT count(*) FROM comments WHERE id = $1", carols_reply) == 1
    for gone in (lone, own_chain, bobs_comment):
        assert await pool.fetchval("SELECT count(*) FROM comments WHERE id = $1", gone) == 0
    replies = await client.get(f"/api/comments/{answered}/replies")
    assert [r["id"] for r in await replies.json()] == [carols_reply]

    # The account is gone: its sessions end and its tokens no longer work.
    async with asyncio.timeout(10):
        try:
            while True:
                await socket.recv(10)
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 1008
    assert (await client.get("/api/users/me", headers=a)).status in (401, 404)
    resp = await client.post("/api/auth/refresh", json={"refresh_token": refresh})
    assert resp.status == 401
    login = {"login": "alice", "password": STRONG_PASSWORD}
    assert (await client.post("/api/auth/login", json=login)).status == 401
