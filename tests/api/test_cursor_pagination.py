"""Cursor pagination (CLUTCH: "cursor-based pagination for large datasets") on every long list:
videos, the following feed, comments, replies, followers and following.

A walk by cursor lists every item once, in the list's order; items inserted before a cursor
do not shift the pages after it; a cursor of another list or sort is refused; `page` and
`limit` keep working beside it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from handlers.videos.routes import SERVICE as VIDEOS
from server.app import DB
from storage.videos import videos
from tests.content import create_video, error_of, make_user, make_users


async def post_comment(client: Any, video_id: str, headers: dict[str, str], **body: Any) -> str:
    resp = await client.post(
        f"/api/videos/{video_id}/comments", json={"content": "hi", **body}, headers=headers
    )
    assert resp.status == 201, await resp.text()
    comment_id: str = (await resp.json())["id"]
    return comment_id


async def walk(client: Any, path: str, field: str, limit: int, **kwargs: Any) -> list[str]:
    """Every id of an object list, page after page by cursor; checks each page's pagination."""
    sep = "&" if "?" in path else "?"
    body = await (await client.get(f"{path}{sep}limit={limit}", **kwargs)).json()
    ids = [item["id"] for item in body[field]]
    assert body["pagination"]["current_page"] == 1
    while body["pagination"]["next_cursor"] is not None:
        assert body["pagination"]["has_next"] is True
        cursor = body["pagination"]["next_cursor"]
        resp = await client.get(f"{path}{sep}limit={limit}&cursor={cursor}", **kwargs)
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        assert body["pagination"]["current_page"] is None
        assert body["pagination"]["has_prev"] is True
        assert len(body[field]) <= limit
        ids += [item["id"] for item in body[field]]
    assert body["pagination"]["has_next"] is False
    return ids


async def page_ids(client: Any, path: str, field: str, **kwargs: Any) -> list[str]:
    body = await (await client.get(path, **kwargs)).json()
    return [item["id"] for item in body[field]]


# --- videos ----------------------------------------------------------------------------------


async def test_videos_by_cursor_in_every_sort(client: Any) -> None:
    _, creator = await make_user(client, role="creator")
    made = [await create_video(client, creator, title=f"guitar lesson {i}") for i in range(7)]
    ids = [v["id"] for v in made]
    pool = client.app[DB]
    # Ties on the sort value are broken by id, so no tie straddling a page is lost.
    for i, video_id in enumerate(ids):
        await pool.execute(
            "UPDATE videos SET view_count = $2, trending_score = $3 WHERE id = $1",
            uuid.UUID(video_id), i // 3, 1.5 + (i % 2) / 3,
        )  # fmt: skip
    client.app[VIDEOS].lists.invalidate()
    for sort in ("latest", "popular", "trending"):
        expected = await page_ids(client, f"/api/videos?sort={sort}&limit=50", "videos")
        assert sorted(expected) == sorted(ids)
        assert await walk(client, f"/api/videos?sort={sort}", "videos", 3) == expected, sort
    # Search results, ranked by relevance, page by cursor too.
    expected = await page_ids(client, "/api/videos?q=guitar&limit=50", "videos")
    assert len(expected) == 7
    assert await walk(client, "/api/videos?q=guitar", "videos", 2) == expected


async def test_video_pages_by_cursor_do_not_shift_when_videos_are_published(
    client: Any,
) -> None:
    _, creator = await make_user(client, role="creator")
    for i in range(6):
        await create_video(client, creator, title=f"v{i}")
    first = await (await client.get("/api/videos?limit=3")).json()
    cursor = first["pagination"]["next_cursor"]
    for i in range(2):
        await create_video(client, creator, title=f"new {i}")
    after = await (await client.get(f"/api/videos?limit=3&cursor={cursor}")).json()
    assert [v["title"] for v in first["videos"]] == ["v5", "v4", "v3"]
    assert [v["title"] for v in after["videos"]] == ["v2", "v1", "v0"]
    assert after["pagination"]["total_items"] == 8 and after["pagination"]["has_next"] is False
    # By page number, the same request now repeats what page 1 showed.
    by_page = await (await client.get("/api/videos?limit=3&page=2")).json()
    assert [v["title"] for v in by_page["videos"]] == ["v4", "v3", "v2"]


async def test_bad_cursors_are_validation_errors(client: Any) -> None:
    _, creator = await make_user(client, role="creator")
    for i in range(3):
        await create_video(client, creator, title=f"v{i}")
    body = await (await client.get("/api/videos?limit=1")).json()
    latest = body["pagination"]["next_cursor"]
    for query in (
        "cursor=not-a-cursor",
        "cursor=" + "A" * 600,
        f"cursor={latest}&sort=popular",  # a cursor of another sort
        f"cursor={latest}&page=2",
        "cursor=WyJ2aWRlb3M6bGF0ZXN0IixbMSwyXV0",  # the right scope, values of the wrong types
    ):
        error = await error_of(await client.get(f"/api/videos?{query}"), 400)
        assert "cursor" in error["field_errors"], query
    _, fan = await make_user(client)
    error = await error_of(
        await client.get(f"/api/users/me/following/videos?cursor={latest}", headers=fan), 400
    )
    assert "cursor" in error["field_errors"]  # a cursor of another list


async def test_following_feed_by_cursor(client: Any) -> None:
    star, star_headers = await make_user(client, role="creator")
    _, fan = await make_user(client)
    made = [await create_video(client, star_headers, title=f"s{i}") for i in range(5)]
    await client.post(f"/api/users/{star.id}/follow", headers=fan)
    got = await walk(client, "/api/users/me/following/videos", "videos", 2, headers=fan)
    assert got == [v["id"] for v in reversed(made)]


async def test_keyset_pages_are_index_range_scans(client: Any) -> None:
    """A page after a cursor starts in the index at the key (offset 0): no scan, no sort."""
    now = datetime.now(UTC)
    keys = {"latest": [now, uuid.uuid4()], "popular": [10, uuid.uuid4()],
            "trending": [2.5, uuid.uuid4()]}  # fmt: skip
    pool = client.app[DB]
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        for sort, index in (("trending", "videos_listed_trending_idx"),
                            ("popular", "videos_listed_popular_idx"),
                            ("latest", "videos_listed_latest_idx")):  # fmt: skip
            page_sql, _, params = videos.list_sql(videos.ListFilter(), sort, keyset=True)  # type: ignore[arg-type]
            explained = await conn.fetch(f"EXPLAIN {page_sql}", *params, *keys[sort], 20, 0)
            plan = "\n".join(row[0] for row in explained)
            assert index in plan and "Sort" not in plan.split(index)[0], plan
            assert "Index Cond" in plan, plan


# --- comments and replies --------------------------------------------------------------------


async def test_comments_by_cursor_in_every_sort_and_stable_under_new_comments(
    client: Any,
) -> None:
    _, creator = await make_user(client, role="creator")
    video = await create_video(client, creator)
    people = await make_users(client, 7)
    ids = [await post_comment(client, video["id"], h) for _, h in people]
    # Likes make "top" differ from "newest", with ties broken by date, then id.
    for comment_id, likes in ((ids[1], 2), (ids[2], 1), (ids[3], 1), (ids[5], 1)):
        await client.app[DB].execute(
            "UPDATE comments SET like_count = $2 WHERE id = $1", uuid.UUID(comment_id), likes
        )
    path = f"/api/videos/{video['id']}/comments"
    for sort in ("newest", "oldest", "top"):
        expected = await page_ids(client, f"{path}?sort={sort}&limit=50", "comments")
        assert sorted(expected) == sorted(ids)
        assert await walk(client, f"{path}?sort={sort}", "comments", 2) == expected, sort
    first = await (await client.get(f"{path}?limit=3")).json()
    await post_comment(client, video["id"], creator)  # lands before the cursor
    cursor = first["pagination"]["next_cursor"]
    after = await client.get(f"{path}?limit=3&cursor={cursor}")
    assert [c["id"] for c in (await after.json())["comments"]] == list(reversed(ids))[3:6]


async def test_replies_by_cursor_in_headers(client: Any) -> None:
    _, creator = await make_user(client, role="creator")
    video = await create_video(client, creator)
    parent = await post_comment(client, video["id"], creator)
    replies = [
        await post_comment(client, video["id"], creator, parent_comment_id=parent) for _ in range(5)
    ]
    path = f"/api/comments/{parent}/replies"
    resp = await client.get(f"{path}?limit=2")
    got = [c["id"] for c in await resp.json()]
    seen_cursor_links = 0
    while "X-Next-Cursor" in resp.headers:
        cursor = resp.headers["X-Next-Cursor"]
        assert resp.headers["X-Total-Count"] == "5"
        resp = await client.get(f"{path}?limit=2&cursor={cursor}")
        assert resp.status == 200, await resp.text()
        if "Link" in resp.headers:  # the next link of a cursor page is a cursor link
            assert f"{path}?limit=2&cursor=" not in resp.headers["Link"]
            assert "cursor=" in resp.headers["Link"] and 'rel="next"' in resp.headers["Link"]
            seen_cursor_links += 1
        got += [c["id"] for c in await resp.json()]
    assert got == replies and seen_cursor_links == 1
    # Replies posted after the first page was read come at the end, not into the next page.
    resp = await client.get(f"{path}?limit=2")
    cursor = resp.headers["X-Next-Cursor"]
    newer = await post_comment(client, video["id"], creator, parent_comment_id=parent)
    after = await client.get(f"{path}?limit=10&cursor={cursor}")
    assert [c["id"] for c in await after.json()] == [*replies[2:], newer]
    assert "Link" not in after.headers and after.headers["X-Total-Count"] == "6"
    error = await error_of(await client.get(f"{path}?cursor=abc"), 400)
    assert "cursor" in error["field_errors"]
    # A browser app may read them (CORS).
    resp = await client.get(f"{path}?limit=2", headers={"Origin": "https://clutch.example"})
    exposed = {h.strip() for h in resp.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"Link", "X-Total-Count", "X-Next-Cursor"} <= exposed


# --- followers and following -----------------------------------------------------------------


async def test_follow_lists_by_cursor(client: Any) -> None:
    star, _ = await make_user(client, role="creator")
    fans = await make_users(client, 5)
    for _, headers in fans:
        await client.post(f"/api/users/{star.id}/follow", headers=headers)
    expected = [str(fan.id) for fan, _ in reversed(fans)]
    assert await walk(client, f"/api/users/{star.id}/followers", "followers", 2) == expected
    first = await (await client.get(f"/api/users/{star.id}/followers?limit=2")).json()
    latecomer, late_headers = await make_user(client)
    await client.post(f"/api/users/{star.id}/follow", headers=late_headers)
    cursor = first["pagination"]["next_cursor"]
    after = await client.get(f"/api/users/{star.id}/followers?limit=3&cursor={cursor}")
    assert [f["id"] for f in (await after.json())["followers"]] == expected[2:]
    assert latecomer
    fan, fan_headers = fans[0]
    others = await make_users(client, 3)
    for other, _ in others:
        await client.post(f"/api/users/{other.id}/follow", headers=fan_headers)
    following = await walk(client, f"/api/users/{fan.id}/following", "following", 2)
    assert following == [str(o.id) for o, _ in reversed(others)] + [str(star.id)]
    followers_cursor = first["pagination"]["next_cursor"]
    error = await error_of(
        await client.get(f"/api/users/{fan.id}/following?cursor={followers_cursor}"), 400
    )
    assert "cursor" in error["field_errors"]
