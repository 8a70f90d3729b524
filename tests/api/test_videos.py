"""CLUTCH "Video Endpoints": create, read, list, search, sort, update, delete, over real HTTP."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from server.app import DB
from server.http.auth import TOKENS
from storage.videos import videos
from tests.content import create_video, error_of, make_user

VIDEO_FIELDS = {
    "id", "title", "description", "thumbnail_url", "video_url", "duration", "view_count",
    "like_count", "dislike_count", "comment_count", "author", "tags", "category", "visibility",
    "published_at", "updated_at", "processing_status", "quality_variants", "metrics",
}  # fmt: skip
PAGINATION_FIELDS = {
    "current_page", "total_pages", "total_items", "has_next", "has_prev", "next_cursor",
}  # fmt: skip


async def test_creator_publishes_a_ready_video_with_the_full_model(client: Any) -> None:
    creator, headers = await make_user(client, role="creator")
    body = await create_video(
        client, headers, title="  Rust in 10 minutes ", description="Learn", duration=600,
        tags=["Rust", "tutorial", "rust"], category="Education", visibility="public",
        thumbnail_url="https://cdn.example.com/t.jpg",
    )  # fmt: skip
    assert set(body) == VIDEO_FIELDS
    assert body["title"] == "Rust in 10 minutes"
    assert body["processing_status"] == "ready" and body["published_at"]
    assert body["tags"] == ["rust", "tutorial"] and body["category"] == "education"
    assert body["view_count"] == body["like_count"] == body["comment_count"] == 0
    assert body["author"] == {
        "id": str(creator.id), "username": creator.username, "display_name": creator.display_name,
        "avatar_url": creator.avatar_url, "follower_count": 0, "verified": False,
    }  # fmt: skip
    assert body["metrics"] == {"watch_time_minutes": 0, "engagement_rate": 0, "retention_curve": []}
    assert body["quality_variants"] == {}
    me = await (await client.get("/api/auth/me", headers=headers)).json()
    assert me["profile"]["total_videos"] == 1


async def test_quality_variants_carry_only_clutch_keys_that_exist(client: Any) -> None:
    _, headers = await make_user(client, role="creator")
    video = await create_video(client, headers)
    # What a media pipeline might leave behind: a rendition CLUTCH does not name, one not
    # produced yet (empty) and one that exists.
    stored = {"720p": "https://cdn.example.com/720.mp4", "1080p": "", "360p": "https://x/360"}
    await client.app[DB].execute(
        "UPDATE videos SET quality_variants = $2 WHERE id = $1", uuid.UUID(video["id"]), stored
    )
    got = await (await client.get(f"/api/videos/{video['id']}")).json()
    assert got["quality_variants"] == {"720p": "https://cdn.example.com/720.mp4"}
    listed = await (await client.get("/api/videos")).json()
    assert listed["videos"][0]["quality_variants"] == {"720p": "https://cdn.example.com/720.mp4"}
    doc = await (await client.get("/openapi.json")).json()
    schema = doc["components"]["schemas"]["QualityVariants"]
    assert set(schema["properties"]) == {"2160p", "1440p", "1080p", "720p", "480p"}
    assert schema["additionalProperties"] is False and not schema.get("required")


async def test_only_creators_and_admins_publish(client: Any) -> None:
    _, user_headers = await make_user(client)
    _, admin_headers = await make_user(client, role="admin")
    resp = await client.post("/api/videos", json={"title": "x"}, headers=user_headers)
    assert (await error_of(resp, 403))["code"] == "FORBIDDEN"
    resp = await client.post("/api/videos", json={"title": "x"})
    assert (await error_of(resp, 401))["code"] == "UNAUTHORIZED"
    await create_video(client, admin_headers)


async def test_expired_and_garbage_tokens_are_401(client: Any) -> None:
    creator, _ = await make_user(client, role="creator")
    expired = client.app[TOKENS].issue_access(
        creator.claims(), now=datetime.now(UTC) - timedelta(hours=2)
    )
    for token in (expired, "not-a-jwt"):
        resp = await client.post(
            "/api/videos", json={"title": "x"}, headers={"Authorization": f"Bearer {token}"}
        )
        assert (await error_of(resp, 401))["code"] == "UNAUTHORIZED"


async def test_create_validation(client: Any) -> None:
    _, headers = await make_user(client, role="creator")
    resp = await client.post(
        "/api/videos",
        json={"title": "x" * 101, "description": "d" * 5001, "visibility": "secret",
              "duration": -1, "video_url": "not a url", "tags": ["t"] * 21, "views": 5},
        headers=headers,
    )  # fmt: skip
    error = await error_of(resp, 400)
    assert set(error["field_errors"]) == {
        "title", "description", "visibility", "duration", "video_url", "tags", "views",
    }  # fmt: skip


async def test_visibility_rules(client: Any) -> None:
    author, headers = await make_user(client, role="creator")
    _, other = await make_user(client)
    _, admin = await make_user(client, role="admin")
    public = await create_video(client, headers, title="public one")
    unlisted = await create_video(client, headers, title="unlisted one", visibility="unlisted")
    private = await create_video(client, headers, title="private one", visibility="private")
    draft = await create_video(client, headers, title="draft", video_url=None)
    assert draft["processing_status"] == "uploaded" and draft["published_at"] is None

    listed = await (await client.get("/api/videos")).json()
    assert [v["id"] for v in listed["videos"]] == [public["id"]]
    for video in (public, unlisted):
        assert (await client.get(f"/api/videos/{video['id']}")).status == 200
    for video in (private, draft):
        await error_of(await client.get(f"/api/videos/{video['id']}"), 404)
        await error_of(await client.get(f"/api/videos/{video['id']}", headers=other), 404)
        for viewer in (headers, admin):
            assert (await client.get(f"/api/videos/{video['id']}", headers=viewer)).status == 200

    # The draft becomes ready once it has a playable URL.
    resp = await client.patch(
        f"/api/videos/{draft['id']}", json={"video_url": "https://cdn.example.com/d.mp4"},
        headers=headers,
    )  # fmt: skip
    ready = await resp.json()
    assert ready["processing_status"] == "ready" and ready["published_at"]
    assert author.id  # the author saw everything above


async def test_unknown_and_malformed_ids(client: Any) -> None:
    error = await error_of(await client.get(f"/api/videos/{uuid.uuid4()}"), 404)
    assert error["code"] == "NOT_FOUND"
    error = await error_of(await client.get("/api/videos/not-a-uuid"), 400)
    assert error["code"] == "VALIDATION_ERROR" and "video_id" in error["field_errors"]


async def test_pagination_shape_and_limits(client: Any) -> None:
    _, headers = await make_user(client, role="creator")
    for i in range(5):
        await create_video(client, headers, title=f"video {i}")
    body = await (await client.get("/api/videos?limit=2&page=2")).json()
    assert set(body) == {"videos", "pagination"}
    assert body["pagination"] == {
        "current_page": 2, "total_pages": 3, "total_items": 5, "has_next": True, "has_prev": True,
        "next_cursor": body["pagination"]["next_cursor"],
    }  # fmt: skip
    assert isinstance(body["pagination"]["next_cursor"], str)
    assert [v["title"] for v in body["videos"]] == ["video 2", "video 1"]  # latest first
    default = await (await client.get("/api/videos")).json()
    assert len(default["videos"]) == 5 and set(default["pagination"]) == PAGINATION_FIELDS
    for query, field in (("limit=51", "limit"), ("page=0", "page"), ("limit=abc", "limit"),
                         ("sort=random", "sort")):  # fmt: skip
        error = await error_of(await client.get(f"/api/videos?{query}"), 400)
        assert error["code"] == "VALIDATION_ERROR" and field in error["field_errors"]
    assert (await client.get("/api/videos?limit=50")).status == 200


async def test_filters_category_and_tags(client: Any) -> None:
    _, headers = await make_user(client, role="creator")
    await create_video(client, headers, title="a", category="music", tags=["guitar", "live"])
    await create_video(client, headers, title="b", category="gaming", tags=["speedrun"])
    await create_video(client, headers, title="c", category="music", tags=["piano"])

    async def titles(query: str) -> list[str]:
        body = await (await client.get(f"/api/videos?{query}")).json()
        return sorted(v["title"] for v in body["videos"])

    assert await titles("category=music") == ["a", "c"]
    assert await titles("category=Music") == ["a", "c"]
    assert await titles("tags=speedrun,piano") == ["b", "c"]  # any of the tags
    assert await titles("tags=live&category=music") == ["a"]
    assert await titles("category=cooking") == []


async def test_search_ranks_title_matches_first(client: Any) -> None:
    _, headers = await make_user(client, role="creator")
    await create_video(client, headers, title="Cooking pasta", description="dinner ideas")
    await create_video(client, headers, title="Weekend vlog", description="we were cooking pasta")
    await create_video(client, headers, title="Guitar lesson", description="chords")
    body = await (await client.get("/api/videos?q=cooking")).json()
    assert [v["title"] for v in body["videos"]] == ["Cooking pasta", "Weekend vlog"]
    assert body["pagination"]["total_items"] == 2
    body = await (await client.get("/api/videos?q=guitar chords")).json()
    assert [v["title"] for v in body["videos"]] == ["Guitar lesson"]


async def test_popular_and_trending_sorts(client: Any) -> None:
    _, headers = await make_user(client, role="creator")
    old = await create_video(client, headers, title="old but viewed")
    new = await create_video(client, headers, title="new and liked")
    pool = client.app[DB]
    await pool.execute(
        "UPDATE videos SET view_count = 1000, trending_score = trending_bump(NULL, 1000,"
        " now() - interval '10 days') WHERE id = $1",
        uuid.UUID(old["id"]),
    )
    await pool.execute(
        "UPDATE videos SET view_count = 10, trending_score = trending_bump(trending_score, 10,"
        " now()) WHERE id = $1",
        uuid.UUID(new["id"]),
    )
    popular = await (await client.get("/api/videos?sort=popular")).json()
    assert [v["title"] for v in popular["videos"]] == ["old but viewed", "new and liked"]
    # 1000 engagements 10 days (ten half-lives) ago weigh about 1; 10 now weigh 10.
    trending = await (await client.get("/api/videos?sort=trending")).json()
    assert [v["title"] for v in trending["videos"]] == ["new and liked", "old but viewed"]


async def test_trending_score_has_a_24_hour_half_life(client: Any) -> None:
    pool = client.app[DB]
    now = datetime.now(UTC)
    one_now = await pool.fetchval("SELECT trending_bump(NULL, 1, $1)", now)
    two_day_ago = await pool.fetchval(
        "SELECT trending_bump(NULL, 2, $1)", now - timedelta(hours=24)
    )
    assert abs(one_now - two_day_ago) < 1e-9
    both = await pool.fetchval("SELECT trending_bump(trending_bump(NULL, 1, $1), 1, $1)", now)
    assert abs(both - await pool.fetchval("SELECT trending_bump(NULL, 2, $1)", now)) < 1e-9
    ancient = await pool.fetchval(
        "SELECT trending_bump(trending_bump(NULL, 1, $1), 1, $2)", now - timedelta(days=400), now
    )
    assert abs(ancient - one_now) < 1e-9  # no underflow error, the old event just vanishes


async def test_list_sorts_are_index_scans(client: Any) -> None:
    pool = client.app[DB]
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        for sort, index in (("trending", "videos_listed_trending_idx"),
                            ("popular", "videos_listed_popular_idx"),
                            ("latest", "videos_listed_latest_idx")):  # fmt: skip
            page_sql, _, params = videos.list_sql(videos.ListFilter(), sort)  # type: ignore[arg-type]
            plan = "\n".join(
                row[0] for row in await conn.fetch(f"EXPLAIN {page_sql}", *params, 20, 0)
            )
            assert index in plan and "Sort" not in plan.split(index)[0], plan


async def test_update_by_author_or_admin_only(client: Any) -> None:
    _, headers = await make_user(client, role="creator")
    _, other = await make_user(client, role="creator")
    _, admin = await make_user(client, role="admin")
    video = await create_video(client, headers, title="first", tags=["a"])
    url = f"/api/videos/{video['id']}"
    resp = await client.patch(url, json={"title": "second"}, headers=headers)
    body = await resp.json()
    assert body["title"] == "second" and body["tags"] == ["a"]
    resp = await client.put(url, json={"description": "by admin"}, headers=admin)
    assert (await resp.json())["description"] == "by admin"
    await error_of(await client.patch(url, json={"title": "x"}, headers=other), 403)
    await error_of(await client.patch(url, json={"title": "x"}), 401)
    await error_of(await client.patch(url, json={"title": ""}, headers=headers), 400)
    await error_of(await client.patch(url, json={"author_id": "x"}, headers=headers), 400)
    await error_of(
        await client.patch(f"/api/videos/{uuid.uuid4()}", json={"title": "x"}, headers=headers),
        404,
    )


async def test_delete_by_author_or_admin(client: Any) -> None:
    _, headers = await make_user(client, role="creator")
    _, other = await make_user(client)
    _, admin = await make_user(client, role="admin")
    first = await create_video(client, headers)
    second = await create_video(client, headers)
    await error_of(await client.delete(f"/api/videos/{first['id']}", headers=other), 403)
    resp = await client.delete(f"/api/videos/{first['id']}", headers=headers)
    assert await resp.json() == {"success": True, "message": "Video deleted"}
    assert (await client.delete(f"/api/videos/{second['id']}", headers=admin)).status == 200
    await error_of(await client.get(f"/api/videos/{first['id']}"), 404)
    await error_of(await client.delete(f"/api/videos/{first['id']}", headers=headers), 404)
    me = await (await client.get("/api/auth/me", headers=headers)).json()
    assert me["profile"]["total_videos"] == 0


async def test_versioned_path_serves_videos(client: Any) -> None:
    _, headers = await make_user(client, role="creator")
    video = await create_video(client, headers)
    assert (await client.get(f"/api/v1/videos/{video['id']}")).status == 200
