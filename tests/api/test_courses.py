"""OpenCourse's courses over real HTTP (`/api/v1/courses...`): CRUD, drafts, search, roles."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.content import make_user, make_users

V1 = "/api/v1"


async def create_course(
    client: TestClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    payload = {"title": "Intro to Streams", "level": "beginner", "published": True} | fields
    resp = await client.post(f"{V1}/courses", json=payload, headers=headers)
    assert resp.status == 201, await resp.text()
    course: dict[str, Any] = (await resp.json())["course"]
    return course


async def test_create_and_read_course(client: TestClient) -> None:
    teacher, headers = await make_user(client, role="creator")
    course = await create_course(
        client,
        headers,
        title="  Async Python  ",
        description="Event loops, tasks and sockets",
        level="intermediate",
        tags=["Python", "python", "asyncio"],
        capacity=30,
    )
    assert course["title"] == "Async Python"  # trimmed
    assert course["tags"] == ["python", "asyncio"]  # lower-cased, duplicates dropped
    assert course["instructor"]["id"] == str(teacher.id)
    assert course["enrollment_count"] == 0 and course["capacity"] == 30
    assert course["published"] is True and course["published_at"]

    resp = await client.get(f"{V1}/courses/{course['id']}")
    assert resp.status == 200
    body = await resp.json()
    assert body["success"] is True
    assert body["course"]["description"] == "Event loops, tasks and sockets"
    assert body["course"]["is_enrolled"] is None  # anonymous
    # The same course under /api (every /api path is served under /api/v1 too).
    assert (await client.get(f"/api/courses/{course['id']}")).status == 200


async def test_update_keeps_fields_not_sent_and_delete(client: TestClient) -> None:
    _, headers = await make_user(client, role="creator")
    course = await create_course(client, headers, description="first", tags=["a"])
    resp = await client.put(
        f"{V1}/courses/{course['id']}", json={"title": "Renamed", "capacity": 5}, headers=headers
    )
    assert resp.status == 200, await resp.text()
    updated = (await resp.json())["course"]
    assert (updated["title"], updated["description"], updated["tags"]) == (
        "Renamed",
        "first",
        ["a"],
    )
    assert updated["capacity"] == 5 and updated["updated_at"] > course["updated_at"]
    # capacity null removes the limit; PATCH is the same as PUT
    resp = await client.patch(
        f"{V1}/courses/{course['id']}", json={"capacity": None}, headers=headers
    )
    assert (await resp.json())["course"]["capacity"] is None

    resp = await client.delete(f"{V1}/courses/{course['id']}", headers=headers)
    assert resp.status == 200 and (await resp.json())["success"] is True
    assert (await client.get(f"{V1}/courses/{course['id']}")).status == 404
    assert (await client.delete(f"{V1}/courses/{course['id']}", headers=headers)).status == 404


async def test_drafts_are_seen_only_by_their_instructor_and_admins(client: TestClient) -> None:
    (_, teacher), (_, other_teacher), (_, student) = await make_users(client, 3, role="creator")
    _, admin = await make_user(client, role="admin")
    draft = await create_course(client, teacher, title="Secret draft", published=False)
    assert draft["published"] is False and draft["published_at"] is None
    url = f"{V1}/courses/{draft['id']}"

    assert (await client.get(url)).status == 404
    assert (await client.get(url, headers=other_teacher)).status == 404
    assert (await client.get(url, headers=teacher)).status == 200
    assert (await client.get(url, headers=admin)).status == 200
    # Not even its existence leaks to another instructor's writes.
    resp = await client.put(url, json={"title": "x"}, headers=other_teacher)
    assert resp.status == 404

    async def titles(headers: dict[str, str] | None, status: str) -> list[str]:
        resp = await client.get(f"{V1}/courses", params={"status": status}, headers=headers)
        assert resp.status == 200
        return [c["title"] for c in (await resp.json())["courses"]]

    assert await titles(None, "published") == []
    assert await titles(None, "draft") == []
    assert await titles(student, "all") == []
    assert await titles(other_teacher, "draft") == []
    assert await titles(teacher, "draft") == ["Secret draft"]
    assert await titles(admin, "all") == ["Secret draft"]

    # Publishing stamps published_at and shows it to everyone.
    resp = await client.put(url, json={"published": True}, headers=teacher)
    assert (await resp.json())["course"]["published_at"]
    assert await titles(None, "published") == ["Secret draft"]


async def test_list_searches_filters_sorts_and_pages(client: TestClient) -> None:
    (_, h1), (t2, h2) = await make_users(client, 2, role="creator")
    await create_course(client, h1, title="Rust for Pythonistas", level="advanced", tags=["rust"])
    await create_course(
        client, h1, title="Cooking", description="Knife skills and PYTHON-free recipes"
    )
    await create_course(client, h2, title="Algebra", level="beginner", tags=["math"])
    await create_course(client, h2, title="50% off_topic", tags=["misc"])

    async def listed(**params: Any) -> list[str]:
        resp = await client.get(f"{V1}/courses", params=params)
        assert resp.status == 200, await resp.text()
        return [c["title"] for c in (await resp.json())["courses"]]

    assert sorted(await listed(q="python")) == ["Cooking", "Rust for Pythonistas"]
    assert await listed(q="%") == ["50% off_topic"]  # LIKE wildcards are literal
    assert await listed(q="o_f") == []  # "_" too: as a wildcard it would match "off"
    assert sorted(await listed(instructor=str(t2.id))) == ["50% off_topic", "Algebra"]
    assert await listed(level="advanced") == ["Rust for Pythonistas"]
    assert await listed(tag="MATH") == ["Algebra"]
    assert await listed(sort="title") == [
        "50% off_topic",
        "Algebra",
        "Cooking",
        "Rust for Pythonistas",
    ]
    assert (await listed(sort="newest"))[0] == "50% off_topic"

    resp = await client.get(f"{V1}/courses", params={"sort": "title", "limit": 3, "page": 2})
    body = await resp.json()
    assert [c["title"] for c in body["courses"]] == ["Rust for Pythonistas"]
    page = body["pagination"]
    assert (page["current_page"], page["total_pages"], page["total_items"]) == (2, 2, 4)
    assert page["has_prev"] is True and page["has_next"] is False


async def test_popular_sort_follows_enrollments(client: TestClient) -> None:
    _, teacher = await make_user(client, role="creator")
    quiet = await create_course(client, teacher, title="Quiet")
    busy = await create_course(client, teacher, title="Busy")
    for _, headers in await make_users(client, 2):
        assert (
            await client.post(f"{V1}/courses/{busy['id']}/enroll", headers=headers)
        ).status == 200
    resp = await client.get(f"{V1}/courses", params={"sort": "popular"})
    assert [c["id"] for c in (await resp.json())["courses"]] == [busy["id"], quiet["id"]]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "ok", "level": "expert"}, "level"),
        ({"title": "ok", "tags": ["t"] * 21}, "tags"),
        ({"title": "ok", "capacity": 0}, "capacity"),
        ({"title": "ok", "published": "yes"}, "published"),
        ({"title": "ok", "instructor_id": str(uuid.uuid4())}, "instructor_id"),
    ],
)
async def test_invalid_course_is_a_clear_400(
    client: TestClient, payload: dict[str, Any], field: str
) -> None:
    _, headers = await make_user(client, role="creator")
    resp = await client.post(f"{V1}/courses", json=payload, headers=headers)
    assert resp.status == 400
    error = (await resp.json())["error"]
    assert error["code"] == "VALIDATION_ERROR" and field in error["field_errors"]


async def test_bad_ids_and_queries_are_400(client: TestClient) -> None:
    assert (await client.get(f"{V1}/courses/not-a-uuid")).status == 400
    for params in ({"sort": "random"}, {"level": "expert"}, {"limit": 0}, {"instructor": "x"}):
        resp = await client.get(f"{V1}/courses", params=params)
        assert resp.status == 400, params
        assert (await resp.json())["success"] is False


async def test_capacity_cannot_go_below_enrollment(client: TestClient) -> None:
    _, teacher = await make_user(client, role="creator")
    course = await create_course(client, teacher)
    for _, headers in await make_users(client, 2):
        await client.post(f"{V1}/courses/{course['id']}/enroll", headers=headers)
    resp = await client.put(f"{V1}/courses/{course['id']}", json={"capacity": 1}, headers=teacher)
    assert resp.status == 409
    assert "capacity" in (await resp.json())["error"]["field_errors"]


async def test_a_demoted_instructor_cannot_write_at_once(client: TestClient) -> None:
    """The role is read from the database when writing, not only from the token."""
    teacher, headers = await make_user(client, role="creator")
    _, admin = await make_user(client, role="admin")
    course = await create_course(client, headers)
    resp = await client.put(
        f"{V1}/users/{teacher.id}/role", json={"role": "student"}, headers=admin
    )
    assert resp.status == 200, await resp.text()
    # The instructor's token still says "creator"; the database says otherwise.
    resp = await client.put(f"{V1}/courses/{course['id']}", json={"title": "x"}, headers=headers)
    assert resp.status == 403
    resp = await client.post(f"{V1}/courses", json={"title": "x"}, headers=headers)
    assert resp.status == 403
