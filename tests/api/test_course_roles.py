"""Who may call which OpenCourse endpoint: one table, every endpoint by every role.

Roles: anonymous, a student, an instructor who does not teach the course, the course's own
instructor, and an administrator. Each cell is the status the call answers.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.api.test_courses import V1, create_course
from tests.content import make_user

ROLES = ("anonymous", "student", "other_instructor", "instructor", "admin")

# (method, path template, body) -> status per role, in ROLES order.
TABLE: list[tuple[str, str, dict[str, Any] | None, tuple[int, ...]]] = [
    ("GET", "/courses", None, (200, 200, 200, 200, 200)),
    ("GET", "/courses/{published}", None, (200, 200, 200, 200, 200)),
    ("GET", "/courses/{draft}", None, (404, 404, 404, 200, 200)),
    ("POST", "/courses", {"title": "New"}, (401, 403, 201, 201, 201)),
    ("PUT", "/courses/{published}", {"title": "Edited"}, (401, 403, 403, 200, 200)),
    ("PATCH", "/courses/{published}", {"title": "Edited"}, (401, 403, 403, 200, 200)),
    ("PUT", "/courses/{draft}", {"title": "Edited"}, (401, 404, 404, 200, 200)),
    ("DELETE", "/courses/{published}", None, (401, 403, 403, 200, 200)),
    ("POST", "/courses/{published}/enroll", None, (401, 200, 200, 409, 200)),
    ("DELETE", "/courses/{published}/enroll", None, (401, 200, 200, 200, 200)),
    ("GET", "/courses/{published}/students", None, (401, 403, 403, 200, 200)),
    ("GET", "/courses/{draft}/students", None, (401, 404, 404, 200, 200)),
    ("GET", "/users", None, (401, 403, 403, 403, 200)),
    ("PUT", "/users/{student_id}/role", {"role": "instructor"}, (401, 403, 403, 403, 200)),
]


@pytest.mark.parametrize(("method", "template", "body", "expected"), TABLE)
async def test_role_table(
    client: TestClient,
    method: str,
    template: str,
    body: dict[str, Any] | None,
    expected: tuple[int, ...],
) -> None:
    instructor, instructor_headers = await make_user(client, role="creator")
    _, other_headers = await make_user(client, role="creator")
    student, student_headers = await make_user(client)
    _, admin_headers = await make_user(client, role="admin")
    headers = {
        "anonymous": {},
        "student": student_headers,
        "other_instructor": other_headers,
        "instructor": instructor_headers,
        "admin": admin_headers,
    }
    got = {}
    for role in ROLES:
        # Fresh courses for each caller, so one caller's delete does not decide the next's.
        published = await create_course(client, instructor_headers, title="Open")
        draft = await create_course(client, instructor_headers, title="Draft", published=False)
        path = template.format(published=published["id"], draft=draft["id"], student_id=student.id)
        resp = await client.request(method, V1 + path, json=body, headers=headers[role])
        got[role] = resp.status
        if resp.status >= 400:
            error = (await resp.json())["error"]
            assert error["code"] and error["message"], (role, error)
    assert got == dict(zip(ROLES, expected, strict=True)), (method, template)
    assert instructor.role == "creator"
