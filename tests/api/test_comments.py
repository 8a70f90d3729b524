"""CLUTCH "Comment Endpoints": threads, replies, edits, deletes, permissions and counts."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from server.app import DB
from storage import integrity
from tests.content import create_video, error_of, events, make_user, make_users

COMMENT_FIELDS = {
    "id", "video_id", "user_id", "parent_comment_id", "content", "like_count", "dislike_count",
    "reply_count", "created_at", "updated_at", "edited", "deleted", "author", "user_interaction",
}  # fmt: skip


async def post_comment(
    client: Any, video_id: str, headers: dict[str, str], content: str = "hello", **extra: Any
) -> dict[str, Any]:
    resp = await client.post(
        f"/api/videos/{video_id}/comments", json={"content": content, **extra}, headers=headers
    )
    assert resp.status == 201, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def video_counts(client: Any, video_id: str) -> int:
    body = await (await client.get(f"/api/videos/{video_id}")).json()
    count: int = body["comment_count"]
    return count


async def test_create_comment_shape_and_events(client: Any) -> None:
    _, author = await make_user(client, role="creator")
    video = await create_video(client, author)
    commenter, headers = await make_user(client)
    comment = await post_comment(client, video["id"], headers, "  First!  ")
    assert set(comment) == COMMENT_FIELDS
    assert comment["content"] == "First!" and comment["parent_comment_id"] is None
    assert comment["author"] == {
        "id": str(commenter.id), "username": commenter.username,
        "display_name": commenter.display_name, "avatar_url": commenter.avatar_url,
        "verified": False,
    }  # fmt: skip
    assert comment["user_interaction"] == {"liked": False, "disliked": False}
    assert comment["edited"] is False and comment["reply_count"] == 0
    assert await video_counts(client, video["id"]) == 1
    published = events(client, f"video:{video['id']}")
    assert [e["type"] for e in published] == ["new_comment", "video_update"]
    assert published[0]["comment"]["id"] == comment["id"]
    assert published[0]["video_id"] == video["id"]
    assert published[1]["data"]["comment_count"] == 1


async def test_list_sorts_and_pagination(client: Any) -> None:
    _, author = await make_user(client, role="creator")
    video = await create_video(client, author)
    people = await make_users(client, 3)
    made = [await post_comment(client, video["id"], h, f"c{i}") for i, (_, h) in enumerate(people)]
    await client.post(
        f"/api/comments/{made[1]['id']}/like", json={"action": "like"}, headers=people[0][1]
    )
    await post_comment(client, video["id"], author, "a reply", parent_comment_id=made[0]["id"])

    async def contents(query: str) -> list[str]:
        body = await (await client.get(f"/api/videos/{video['id']}/comments?{query}")).json()
        return [c["content"] for c in body["comments"]]

    assert await contents("") == ["c2", "c1", "c0"]  # newest first, replies not listed
    assert await contents("sort=oldest") == ["c0", "c1", "c2"]
    assert (await contents("sort=top"))[0] == "c1"
    body = await (await client.get(f"/api/videos/{video['id']}/comments?limit=2&page=2")).json()
    assert body["pagination"] == {
        "current_page": 2, "total_pages": 2, "total_items": 3, "has_next": False, "has_prev": True,
        "next_cursor": None,
    }  # fmt: skip
    assert [c["content"] for c in body["comments"]] == ["c0"]
    for query, field in (("limit=51", "limit"), ("page=0", "page"), ("sort=best", "sort")):
        resp = await client.get(f"/api/videos/{video['id']}/comments?{query}")
        assert field in (await error_of(resp, 400))["field_errors"]


async def test_replies(client: Any) -> None:
    _, author = await make_user(client, role="creator")
    video = await create_video(client, author)
    _, fan = await make_user(client)
    parent = await post_comment(client, video["id"], fan, "question?")
    for i in range(3):
        await post_comment(
            client, video["id"], author, f"answer {i}", parent_comment_id=parent["id"]
        )
    # CLUTCH: "Array of reply comments"; the pagination travels in headers.
    resp = await client.get(f"/api/comments/{parent['id']}/replies?limit=2")
    body = await resp.json()
    assert isinstance(body, list)
    assert [c["content"] for c in body] == ["answer 0", "answer 1"]
    assert all(set(c) == COMMENT_FIELDS for c in body)
    assert all(c["parent_comment_id"] == parent["id"] for c in body)
    replies = f"/api/comments/{parent['id']}/replies"
    assert resp.headers["X-Total-Count"] == "3"
    assert resp.headers["Link"] == (
        f'<{replies}?page=2&limit=2>; rel="next", <{replies}?page=1&limit=2>; rel="first", '
        f'<{replies}?page=2&limit=2>; rel="last"'
    )
    last = await client.get(f"{replies}?limit=2&page=2")
    assert [c["content"] for c in await last.json()] == ["answer 2"]
    assert 'rel="next"' not in last.headers["Link"] and "X-Next-Cursor" not in last.headers
    after = await client.get(f"{replies}?limit=2&cursor={resp.headers['X-Next-Cursor']}")
    assert [c["content"] for c in await after.json()] == ["answer 2"]
    # Parameters the list does not take are not echoed into Link (a control character there
    # made the node drop the connection instead of answering).
    odd = await client.get(f"{replies}?limit=2&x%0E=%0E%3C&%C3%A0=")
    assert odd.status == 200
    assert odd.headers["Link"] == resp.headers["Link"]
    listed = await (await client.get(f"/api/videos/{video['id']}/comments")).json()
    assert listed["comments"][0]["reply_count"] == 3
    assert await video_counts(client, video["id"]) == 4

    other = await create_video(client, author)
    resp = await client.post(
        f"/api/videos/{other['id']}/comments",
        json={"content": "wrong thread", "parent_comment_id": parent["id"]},
        headers=fan,
    )
    assert "parent_comment_id" in (await error_of(resp, 409))["field_errors"]
    await error_of(await client.get(f"/api/comments/{uuid.uuid4()}/replies"), 404)
    await error_of(await client.get("/api/comments/zzz/replies"), 400)
    await error_of(await client.get(f"/api/comments/{parent['id']}/replies?limit=99"), 400)


async def test_edit_by_author_only(client: Any) -> None:
    _, author = await make_user(client, role="creator")
    video = await create_video(client, author)
    (_, alice), (_, bob) = await make_users(client, 2)
    _, admin = await make_user(client, role="admin")
    comment = await post_comment(client, video["id"], alice, "tpyo")
    path = f"/api/comments/{comment['id']}"
    resp = await client.put(path, json={"content": "typo"}, headers=alice)
    edited = await resp.json()
    assert edited["content"] == "typo" and edited["edited"] is True
    assert edited["updated_at"] >= comment["updated_at"]
    for other in (bob, author, admin):
        await error_of(await client.put(path, json={"content": "x"}, headers=other), 403)
    await error_of(await client.put(path, json={"content": "x"}), 401)
    await error_of(await client.put(path, json={"content": ""}, headers=alice), 400)
    await error_of(await client.put(path, json={"content": "x" * 1001}, headers=alice), 400)
    await error_of(
        await client.put(f"/api/comments/{uuid.uuid4()}", json={"content": "x"}, headers=alice),
        404,
    )
    assert events(client, f"video:{video['id']}")[-1]["type"] == "comment_updated"


async def test_delete_permissions(client: Any) -> None:
    _, author = await make_user(client, role="creator")
    video = await create_video(client, author)
    (_, alice), (_, bob) = await make_users(client, 2)
    _, admin = await make_user(client, role="admin")
    first, second, third = [await post_comment(client, video["id"], alice) for _ in range(3)]
    await error_of(await client.delete(f"/api/comments/{first['id']}", headers=bob), 403)
    await error_of(await client.delete(f"/api/comments/{first['id']}"), 401)
    for comment, who in ((first, alice), (second, author), (third, admin)):
        resp = await client.delete(f"/api/comments/{comment['id']}", headers=who)
        assert await resp.json() == {"success": True, "message": "Comment deleted"}
    await error_of(await client.delete(f"/api/comments/{first['id']}", headers=alice), 404)
    assert await video_counts(client, video["id"]) == 0
    types = [e["type"] for e in events(client, f"video:{video['id']}")]
    assert types.count("comment_deleted") == 3


async def test_deleted_comment_with_replies_keeps_its_place(client: Any) -> None:
    _, author = await make_user(client, role="creator")
    video = await create_video(client, author)
    _, fan = await make_user(client)
    parent = await post_comment(client, video["id"], fan, "parent")
    reply = await post_comment(client, video["id"], author, "reply", parent_comment_id=parent["id"])
    await client.delete(f"/api/comments/{parent['id']}", headers=fan)

    listed = await (await client.get(f"/api/videos/{video['id']}/comments")).json()
    [kept] = listed["comments"]
    assert kept["id"] == parent["id"] and kept["deleted"] is True and kept["content"] == ""
    assert kept["reply_count"] == 1
    assert await video_counts(client, video["id"]) == 1  # only the reply still counts
    await error_of(
        await client.put(f"/api/comments/{parent['id']}", json={"content": "x"}, headers=fan), 404
    )
    resp = await client.post(
        f"/api/videos/{video['id']}/comments",
        json={"content": "late", "parent_comment_id": parent["id"]},
        headers=fan,
    )
    await error_of(resp, 409)

    # The last reply goes: the empty placeholder goes with it.
    await client.delete(f"/api/comments/{reply['id']}", headers=author)
    listed = await (await client.get(f"/api/videos/{video['id']}/comments")).json()
    assert listed["comments"] == [] and await video_counts(client, video["id"]) == 0
    assert set((await integrity.drift(client.app[DB])).values()) == {0}


async def test_comment_errors_on_videos(client: Any) -> None:
    _, author = await make_user(client, role="creator")
    private = await create_video(client, author, visibility="private")
    _, fan = await make_user(client)
    for path in (f"/api/videos/{uuid.uuid4()}/comments", f"/api/videos/{private['id']}/comments"):
        await error_of(await client.get(path), 404)
        await error_of(await client.post(path, json={"content": "x"}, headers=fan), 404)
    await error_of(await client.get("/api/videos/bad/comments"), 400)
    video = await create_video(client, author)
    path = f"/api/videos/{video['id']}/comments"
    await error_of(await client.post(path, json={"content": "x"}), 401)
    for payload in ({"content": ""}, {"content": "x" * 1001}, {}, {"content": "x", "extra": 1}):
        await error_of(await client.post(path, json=payload, headers=fan), 400)


async def test_concurrent_comments_and_deletes_keep_counts_exact(client: Any) -> None:
    _, author = await make_user(client, role="creator")
    video = await create_video(client, author)
    people = await make_users(client, 20)
    parent = await post_comment(client, video["id"], author, "thread")
    replies = await asyncio.gather(
        *(
            post_comment(client, video["id"], h, f"r{i}", parent_comment_id=parent["id"])
            for i, (_, h) in enumerate(people)
        )
    )
    await asyncio.gather(
        client.delete(f"/api/comments/{parent['id']}", headers=author),
        *(
            client.delete(f"/api/comments/{r['id']}", headers=h)
            for r, (_, h) in zip(replies[:10], people, strict=False)
        ),
    )
    assert await video_counts(client, video["id"]) == 10
    assert set((await integrity.drift(client.app[DB])).values()) == {0}
