"""CLUTCH "User Follow System": follow, unfollow, lists, feed, exact counts, privacy."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from server.app import DB
from storage import integrity
from tests.content import create_video, error_of, events, make_user, make_users

ENTRY_FIELDS = {"id", "username", "display_name", "avatar_url", "follower_count", "followed_at"}


async def follow(client: Any, user_id: Any, headers: dict[str, str], method: str = "POST") -> Any:
    resp = await client.request(method, f"/api/users/{user_id}/follow", headers=headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_follow_unfollow_idempotent_with_counts_and_event(client: Any) -> None:
    star, star_headers = await make_user(client, role="creator")
    fan, fan_headers = await make_user(client)
    assert await follow(client, star.id, fan_headers) == {
        "success": True, "following": True, "follower_count": 1,
    }  # fmt: skip
    assert (await follow(client, star.id, fan_headers))["follower_count"] == 1
    me = await (await client.get("/api/auth/me", headers=fan_headers)).json()
    assert me["user"]["following_count"] == 1
    assert events(client, f"user:{star.id}") == [
        {
            "type": "new_follower",
            "follower": {
                "id": str(fan.id), "username": fan.username,
                "display_name": fan.display_name, "avatar_url": fan.avatar_url,
            },
        }
    ]  # fmt: skip
    assert await follow(client, star.id, fan_headers, "DELETE") == {
        "success": True, "following": False, "follower_count": 0,
    }  # fmt: skip
    assert (await follow(client, star.id, fan_headers, "DELETE"))["follower_count"] == 0
    me = await (await client.get("/api/auth/me", headers=fan_headers)).json()
    assert me["user"]["following_count"] == 0
    assert star_headers


async def test_follow_errors(client: Any) -> None:
    me, headers = await make_user(client)
    error = await error_of(await client.post(f"/api/users/{me.id}/follow", headers=headers), 409)
    assert error["code"] == "CONFLICT" and "user_id" in error["field_errors"]
    error = await error_of(await client.post("/api/users/me/follow", headers=headers), 409)
    error = await error_of(
        await client.post(f"/api/users/{uuid.uuid4()}/follow", headers=headers), 404
    )
    assert error["code"] == "NOT_FOUND"
    await error_of(await client.delete(f"/api/users/{uuid.uuid4()}/follow", headers=headers), 404)
    await error_of(await client.post("/api/users/not-an-id/follow", headers=headers), 400)
    await error_of(await client.post(f"/api/users/{me.id}/follow"), 401)


async def test_lists_with_pagination_and_followed_at(client: Any) -> None:
    star, _ = await make_user(client, role="creator")
    fans = await make_users(client, 3)
    for _, headers in fans:
        await follow(client, star.id, headers)
    body = await (await client.get(f"/api/users/{star.id}/followers?limit=2")).json()
    assert set(body) == {"followers", "pagination"}
    assert len(body["followers"]) == 2 and set(body["followers"][0]) == ENTRY_FIELDS
    assert body["followers"][0]["id"] == str(fans[2][0].id)  # most recent first
    assert body["pagination"] == {
        "current_page": 1, "total_pages": 2, "total_items": 3, "has_next": True, "has_prev": False,
        "next_cursor": body["pagination"]["next_cursor"],
    }  # fmt: skip
    assert isinstance(body["pagination"]["next_cursor"], str)
    body = await (await client.get(f"/api/users/{fans[0][0].id}/following")).json()
    assert set(body) == {"following", "pagination"}
    assert [f["id"] for f in body["following"]] == [str(star.id)]
    assert body["following"][0]["follower_count"] == 3 and body["following"][0]["followed_at"]
    body = await (await client.get("/api/users/me/following", headers=fans[0][1])).json()
    assert [f["id"] for f in body["following"]] == [str(star.id)]
    await error_of(await client.get("/api/users/me/following"), 401)
    await error_of(await client.get(f"/api/users/{star.id}/followers?limit=51"), 400)
    await error_of(await client.get(f"/api/users/{uuid.uuid4()}/followers"), 404)
    await error_of(await client.get("/api/users/xyz/following"), 400)


async def test_privacy_hides_lists(client: Any) -> None:
    shy, shy_headers = await make_user(client)
    _, other = await make_user(client)
    _, admin = await make_user(client, role="admin")
    resp = await client.put(
        "/api/users/me",
        json={"settings": {"privacy": {"show_followers": False}}},
        headers=shy_headers,
    )
    assert resp.status == 200
    await error_of(await client.get(f"/api/users/{shy.id}/followers", headers=other), 403)
    assert (await client.get(f"/api/users/{shy.id}/following", headers=other)).status == 200
    for allowed in (shy_headers, admin):
        assert (await client.get(f"/api/users/{shy.id}/followers", headers=allowed)).status == 200


async def set_visibility(client: Any, headers: dict[str, str], visibility: str) -> None:
    resp = await client.put(
        "/api/users/me",
        json={"settings": {"privacy": {"profile_visibility": visibility}}},
        headers=headers,
    )
    assert resp.status == 200, await resp.text()


async def test_lists_hide_users_whose_profile_the_viewer_may_not_see(client: Any) -> None:
    star, _ = await make_user(client, role="creator")
    (public, public_h), (private, private_h), (closed, closed_h) = await make_users(client, 3)
    await set_visibility(client, private_h, "private")
    await set_visibility(client, closed_h, "followers")  # open to whoever follows them
    for headers in (public_h, private_h, closed_h):
        await follow(client, star.id, headers)
    (stranger, stranger_h), (_, friend_h) = await make_users(client, 2)
    await follow(client, closed.id, friend_h)
    _, admin = await make_user(client, role="admin")

    async def listed(path: str, headers: dict[str, str] | None = None) -> tuple[set[str], int]:
        resp = await client.get(path, headers=headers or {})
        body = await resp.json()
        entries = body["followers" if path.endswith("followers") else "following"]
        return {e["id"] for e in entries}, body["pagination"]["total_items"]

    followers = f"/api/users/{star.id}/followers"
    ids = {name: str(user.id) for name, user in
           (("public", public), ("private", private), ("closed", closed))}  # fmt: skip
    assert await listed(followers) == ({ids["public"]}, 1)
    assert await listed(followers, stranger_h) == ({ids["public"]}, 1)
    assert await listed(followers, friend_h) == ({ids["public"], ids["closed"]}, 2)
    assert await listed(followers, private_h) == ({ids["public"], ids["private"]}, 2)
    assert await listed(followers, admin) == (set(ids.values()), 3)
    # The profile itself still counts every follower, and its followers page by page too.
    profile = await (await client.get(f"/api/users/{star.id}")).json()
    assert profile["user"]["follower_count"] == 3
    page = await (await client.get(f"{followers}?limit=1", headers=friend_h)).json()
    assert page["pagination"]["total_pages"] == 2 and page["pagination"]["has_next"] is True
    # The same on the other side: whom someone follows.
    await follow(client, private.id, stranger_h)
    await follow(client, public.id, stranger_h)
    following = f"/api/users/{stranger.id}/following"
    assert await listed(following) == ({ids["public"]}, 1)
    assert await listed(following, admin) == ({ids["public"], ids["private"]}, 2)


async def test_feed_shows_followed_authors_public_videos(client: Any) -> None:
    star, star_headers = await make_user(client, role="creator")
    _, other_headers = await make_user(client, role="creator")
    _, fan = await make_user(client)
    await create_video(client, star_headers, title="star 1")
    await create_video(client, star_headers, title="star secret", visibility="private")
    await create_video(client, star_headers, title="star 2")
    await create_video(client, other_headers, title="not followed")
    empty = await (await client.get("/api/users/me/following/videos", headers=fan)).json()
    assert empty["videos"] == [] and empty["pagination"]["total_items"] == 0
    await follow(client, star.id, fan)
    feed = await (await client.get("/api/users/me/following/videos", headers=fan)).json()
    assert [v["title"] for v in feed["videos"]] == ["star 2", "star 1"]
    assert feed["videos"][0]["author"]["follower_count"] == 1
    await error_of(await client.get("/api/users/me/following/videos"), 401)
    await error_of(await client.get("/api/users/me/following/videos?limit=51", headers=fan), 400)


async def test_concurrent_follows_keep_counts_exact(client: Any) -> None:
    people = await make_users(client, 30)
    # Everyone follows and unfollows everyone else's neighbours at once, some twice.
    tasks = []
    for i, (_, headers) in enumerate(people):
        for j in (1, 2, 3):
            target = people[(i + j) % len(people)][0].id
            tasks.append(follow(client, target, headers))
            tasks.append(follow(client, target, headers))
        tasks.append(follow(client, people[(i + 1) % len(people)][0].id, headers, "DELETE"))
    await asyncio.gather(*tasks)
    assert set((await integrity.drift(client.app[DB])).values()) == {0}
