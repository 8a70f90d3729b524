"""OpenCourse's enrollment over real HTTP: idempotence, capacity, exact counts, summaries."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from aiohttp.test_utils import TestClient

from server.app import DB
from storage import integrity
from tests.api.test_courses import V1, create_course
from tests.conftest import make_settings
from tests.content import make_user, make_users


async def test_enroll_is_idempotent_and_unenroll_too(client: TestClient) -> None:
    _, teacher = await make_user(client, role="creator")
    course = await create_course(client, teacher)
    _, student = await make_user(client)
    url = f"{V1}/courses/{course['id']}/enroll"

    first = await (await client.post(url, headers=student)).json()
    assert first["enrolled"] is True and first["enrollment_count"] == 1
    assert first["message"] == "Enrolled" and first["enrolled_at"]
    again = await (await client.post(url, headers=student)).json()
    assert again["message"] == "Already enrolled" and again["enrollment_count"] == 1
    assert again["enrolled_at"] == first["enrolled_at"]
    detail = await (await client.get(f"{V1}/courses/{course['id']}", headers=student)).json()
    assert detail["course"]["is_enrolled"] is True

    left = await (await client.delete(url, headers=student)).json()
    assert left == {
        "success": True,
        "enrolled": False,
        "enrollment_count": 0,
        "enrolled_at": None,
        "message": "Unenrolled",
    }
    assert (await (await client.delete(url, headers=student)).json())["message"] == "Not enrolled"
    assert (await client.post(url)).status == 401


async def test_full_course_is_409_and_a_seat_frees_on_unenroll(client: TestClient) -> None:
    _, teacher = await make_user(client, role="creator")
    course = await create_course(client, teacher, capacity=1)
    (_, first), (_, second) = await make_users(client, 2)
    url = f"{V1}/courses/{course['id']}/enroll"
    assert (await client.post(url, headers=first)).status == 200
    resp = await client.post(url, headers=second)
    assert resp.status == 409
    error = (await resp.json())["error"]
    assert error["code"] == "CONFLICT" and error["details"]["reason"] == "course_full"
    # Already enrolled in a full course: still an idempotent success.
    assert (await client.post(url, headers=first)).status == 200
    await client.delete(url, headers=first)
    assert (await client.post(url, headers=second)).status == 200


async def test_drafts_and_own_courses_refuse_enrollment(client: TestClient) -> None:
    _, teacher = await make_user(client, role="creator")
    _, admin = await make_user(client, role="admin")
    _, student = await make_user(client)
    draft = await create_course(client, teacher, published=False)
    url = f"{V1}/courses/{draft['id']}/enroll"
    assert (await client.post(url, headers=student)).status == 404  # a draft does not exist
    assert (await client.post(url, headers=admin)).status == 409  # admins see it: not open
    published = await create_course(client, teacher)
    resp = await client.post(f"{V1}/courses/{published['id']}/enroll", headers=teacher)
    assert resp.status == 409


async def test_concurrent_enrolls_and_unenrolls_keep_count_equal_to_rows(
    client: TestClient,
) -> None:
    _, teacher = await make_user(client, role="creator")
    course = await create_course(client, teacher, capacity=25)
    students = await make_users(client, 40)
    url = f"{V1}/courses/{course['id']}/enroll"
    rng = random.Random(13)
    calls = [(rng.choice(("post", "delete")), headers) for _, headers in students for _ in range(5)]
    rng.shuffle(calls)  # 200 requests, each student enrolling and leaving in some order

    async def call(method: str, headers: dict[str, str]) -> int:
        resp = await client.request(method.upper(), url, headers=headers)
        return resp.status

    statuses = await asyncio.gather(*(call(m, h) for m, h in calls))
    assert set(statuses) <= {200, 409}  # 409: full at that moment
    pool = client.app[DB]
    rows = await pool.fetchval(
        "SELECT count(*) FROM enrollments WHERE course_id = $1", course["id"]
    )
    detail = await (await client.get(f"{V1}/courses/{course['id']}")).json()
    assert detail["course"]["enrollment_count"] == rows <= 25
    assert (await integrity.drift(pool))["courses.enrollment_count"] == 0


async def test_students_list_and_me_summary(client: TestClient) -> None:
    teacher_user, teacher = await make_user(client, role="creator")
    other_teacher = (await make_users(client, 1, role="creator", prefix="o"))[0][1]
    _, admin = await make_user(client, role="admin")
    courses = [await create_course(client, teacher, title=f"C{i}") for i in range(3)]
    (alice, a_headers), (bob, b_headers) = await make_users(client, 2)
    for course in courses:
        await client.post(f"{V1}/courses/{course['id']}/enroll", headers=a_headers)
    await client.post(f"{V1}/courses/{courses[0]['id']}/enroll", headers=b_headers)

    url = f"{V1}/courses/{courses[0]['id']}/students"
    for headers in (teacher, admin):
        resp = await client.get(url, params={"limit": 1}, headers=headers)
        assert resp.status == 200
        body = await resp.json()
        assert [s["id"] for s in body["students"]] == [str(bob.id)]  # latest first
        assert body["pagination"]["total_items"] == 2
    for headers in (a_headers, other_teacher):
        assert (await client.get(url, headers=headers)).status == 403

    me = await (await client.get(f"{V1}/users/me", headers=a_headers)).json()
    assert me["user"]["id"] == str(alice.id) and me["user"]["course_role"] == "student"
    summary = me["enrollments"]
    assert summary["total"] == 3
    assert [c["title"] for c in summary["courses"]] == ["C2", "C1", "C0"]
    assert summary["courses"][0]["instructor_display_name"] == teacher_user.display_name
    # The torrent app's /api/users/me is the same response.
    assert (await (await client.get("/api/users/me", headers=a_headers)).json()) == me


async def test_setting_requires_a_confirmed_email_to_enroll(
    aiohttp_client: Any, engines: Any
) -> None:
    from server.app import create_app

    client = await aiohttp_client(
        create_app(make_settings(engines, ENROLLMENT_REQUIRES_VERIFIED_EMAIL=True))
    )
    _, teacher = await make_user(client, role="creator")
    course = await create_course(client, teacher)
    student, headers = await make_user(client)
    url = f"{V1}/courses/{course['id']}/enroll"
    resp = await client.post(url, headers=headers)
    assert resp.status == 403
    assert (await resp.json())["error"]["details"]["reason"] == "email_not_verified"
    await client.app[DB].execute("UPDATE users SET email_verified = true WHERE id = $1", student.id)
    assert (await client.post(url, headers=headers)).status == 200
