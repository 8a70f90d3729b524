"""OpenCourse's user administration: `GET /api/v1/users` and role changes, roles in its words."""

from __future__ import annotations

import uuid

from aiohttp.test_utils import TestClient

from tests.content import make_user, make_users

V1 = "/api/v1"


async def test_admins_list_users_with_roles_in_opencourse_words(client: TestClient) -> None:
    await make_users(client, 3, prefix="learner")
    await make_users(client, 2, role="creator", prefix="teacher")
    _, admin = await make_user(client, role="admin")

    resp = await client.get(f"{V1}/users", params={"limit": 4}, headers=admin)
    assert resp.status == 200
    body = await resp.json()
    assert body["pagination"]["total_items"] == 6 and len(body["users"]) == 4
    assert {u["role"] for u in body["users"]} <= {"student", "instructor", "administrator"}
    assert set(body["users"][0]) == {
        "id",
        "username",
        "email",
        "display_name",
        "role",
        "email_verified",
        "created_at",
        "last_login",
    }
    for role, count in (("instructor", 2), ("creator", 2), ("student", 3), ("administrator", 1)):
        resp = await client.get(f"{V1}/users", params={"role": role}, headers=admin)
        assert (await resp.json())["pagination"]["total_items"] == count, role
    resp = await client.get(f"{V1}/users", params={"q": "TEACHER"}, headers=admin)
    assert {u["role"] for u in (await resp.json())["users"]} == {"instructor"}
    assert (await client.get(f"{V1}/users", params={"role": "owner"}, headers=admin)).status == 400


async def test_role_changes_in_either_vocabulary(client: TestClient) -> None:
    student, headers = await make_user(client)
    _, admin = await make_user(client, role="admin")
    url = f"{V1}/users/{student.id}/role"
    resp = await client.put(url, json={"role": "instructor"}, headers=admin)
    assert resp.status == 200
    assert (await resp.json())["user"]["role"] == "instructor"
    # A promotion reaches the account with its next token: this one still says "user".
    assert (await client.post(f"{V1}/courses", json={"title": "x"}, headers=headers)).status == 403
    resp = await client.put(url, json={"role": "admin"}, headers=admin)
    assert (await resp.json())["user"]["role"] == "administrator"
    assert (await client.put(url, json={"role": "root"}, headers=admin)).status == 400


async def test_role_change_refusals(client: TestClient) -> None:
    admin_user, admin = await make_user(client, role="admin")
    resp = await client.put(
        f"{V1}/users/{admin_user.id}/role", json={"role": "student"}, headers=admin
    )
    assert resp.status == 409  # never lock oneself out
    resp = await client.put(
        f"{V1}/users/{uuid.uuid4()}/role", json={"role": "student"}, headers=admin
    )
    assert resp.status == 404
    resp = await client.put(f"{V1}/users/nope/role", json={"role": "student"}, headers=admin)
    assert resp.status == 400
