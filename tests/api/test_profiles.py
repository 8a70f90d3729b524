"""Profiles: GET /api/users/{id} with CLUTCH privacy, GET/PUT /api/users/me (torrent app)."""

from __future__ import annotations

import uuid
from typing import Any

from tests.content import error_of, make_user

PUBLIC_USER = {
    "id", "username", "display_name", "avatar_url", "bio", "verified", "follower_count",
    "following_count", "created_at",
}  # fmt: skip
TOTALS = {"total_views", "total_videos", "total_likes_received"}


async def test_get_me_and_update(client: Any) -> None:
    me, headers = await make_user(client)
    body = await (await client.get("/api/users/me", headers=headers)).json()
    assert set(body) == {"user", "profile", "enrollments"} and set(body["profile"]) == TOTALS
    own = {"email", "email_verified", "role", "course_role", "settings"}
    assert set(body["user"]) == PUBLIC_USER | own
    assert (body["user"]["role"], body["user"]["course_role"]) == ("user", "student")
    assert body["enrollments"] == {"total": 0, "courses": []}
    assert body["user"]["settings"]["privacy"]["profile_visibility"] == "public"

    resp = await client.put(
        "/api/users/me",
        json={
            "display_name": "New Name", "bio": "I make videos", "avatar_url": "https://x.io/a.png",
            "settings": {"notifications": {"push": False}, "privacy": {"show_following": False}},
        },
        headers=headers,
    )  # fmt: skip
    assert resp.status == 200, await resp.text()
    user = (await resp.json())["user"]
    assert (user["display_name"], user["bio"], user["avatar_url"]) == (
        "New Name", "I make videos", "https://x.io/a.png",
    )  # fmt: skip
    # Settings merge key by key: what was not sent keeps its value.
    assert user["settings"]["notifications"] == {
        "email": True, "push": False, "comments": True, "followers": True,
    }  # fmt: skip
    assert user["settings"]["privacy"]["show_following"] is False
    assert user["settings"]["privacy"]["show_followers"] is True

    resp = await client.patch("/api/users/me", json={"bio": ""}, headers=headers)
    assert (await resp.json())["user"]["display_name"] == "New Name"
    assert me.id


async def test_update_validation_and_auth(client: Any) -> None:
    _, headers = await make_user(client)
    for payload, field in (
        ({"bio": "b" * 501}, "bio"),
        ({"display_name": ""}, "display_name"),
        ({"avatar_url": "javascript:alert(1)"}, "avatar_url"),
        ({"role": "admin"}, "role"),
        (
            {"settings": {"privacy": {"profile_visibility": "friends"}}},
            "settings.privacy.profile_visibility",
        ),
    ):
        error = await error_of(
            await client.put("/api/users/me", json=payload, headers=headers), 400
        )
        assert field in error["field_errors"], error
    await error_of(await client.get("/api/users/me"), 401)
    await error_of(await client.put("/api/users/me", json={"bio": "x"}), 401)


async def test_public_profile_and_privacy(client: Any) -> None:
    target, target_headers = await make_user(client)
    viewer, viewer_headers = await make_user(client)
    _, admin = await make_user(client, role="admin")
    body = await (await client.get(f"/api/users/{target.id}")).json()
    assert set(body) == {"user", "profile", "is_following"}
    assert set(body["user"]) == PUBLIC_USER and "email" not in body["user"]
    assert body["is_following"] is False

    await client.put(
        "/api/users/me",
        json={"settings": {"privacy": {"profile_visibility": "followers"}}},
        headers=target_headers,
    )
    await error_of(await client.get(f"/api/users/{target.id}"), 403)
    await error_of(await client.get(f"/api/users/{target.id}", headers=viewer_headers), 403)
    await client.post(f"/api/users/{target.id}/follow", headers=viewer_headers)
    body = await (await client.get(f"/api/users/{target.id}", headers=viewer_headers)).json()
    assert body["is_following"] is True and body["user"]["follower_count"] == 1

    await client.put(
        "/api/users/me",
        json={"settings": {"privacy": {"profile_visibility": "private"}}},
        headers=target_headers,
    )
    await error_of(await client.get(f"/api/users/{target.id}", headers=viewer_headers), 403)
    await error_of(
        await client.get(f"/api/users/{target.id}/following", headers=viewer_headers), 403
    )
    for allowed in (target_headers, admin):
        assert (await client.get(f"/api/users/{target.id}", headers=allowed)).status == 200
    assert viewer.id


async def test_profile_errors(client: Any) -> None:
    await error_of(await client.get(f"/api/users/{uuid.uuid4()}"), 404)
    await error_of(await client.get("/api/users/not-a-uuid"), 400)
    await error_of(
        await client.get(f"/api/users/{uuid.uuid4()}", headers={"Authorization": "Bearer x"}), 401
    )


async def test_the_api_docs_say_what_followers_only_means(client: Any) -> None:
    doc = await (await client.get("/openapi.json")).json()
    field = doc["components"]["schemas"]["PrivacySettings"]["properties"]["profile_visibility"]
    assert "anyone who follows" in field["description"]
    assert "no approval" in field["description"]
