"""Enrollments (table `enrollments`, migration 0031) and the course's enrollment_count.

Every change locks the course row first, then touches the enrollment and moves the counter in
the same transaction: so the count always equals the rows, the capacity check cannot be raced
past, and an enroll and an unenroll of the same pair never deadlock (one lock order).
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from storage.db import Conn


class Outcome(enum.Enum):
    enrolled = "enrolled"
    already = "already"  # enrolled before: nothing changed
    left = "left"
    not_enrolled = "not_enrolled"  # was not enrolled: nothing changed
    full = "full"
    unpublished = "unpublished"
    missing = "missing"


@dataclass(frozen=True, slots=True)
class Change:
    outcome: Outcome
    enrollment_count: int = 0
    enrolled_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Student:
    id: uuid.UUID
    username: str
    display_name: str
    email: str
    avatar_url: str
    enrolled_at: datetime


@dataclass(frozen=True, slots=True)
class Enrolled:
    """A course as its student's summary shows it."""

    course_id: uuid.UUID
    title: str
    level: str
    instructor_display_name: str
    enrolled_at: datetime


async def enroll(pool: asyncpg.Pool, *, course_id: uuid.UUID, user_id: uuid.UUID) -> Change:
    async with pool.acquire() as conn, conn.transaction():
        course = await conn.fetchrow(
            """SELECT published, capacity, enrollment_count FROM courses
               WHERE id = $1 FOR UPDATE""",
            course_id,
        )
        if course is None:
            return Change(Outcome.missing)
        count = course["enrollment_count"]
        existing = await conn.fetchval(
            "SELECT enrolled_at FROM enrollments WHERE course_id = $1 AND user_id = $2",
            course_id, user_id,
        )  # fmt: skip
        if existing is not None:
            return Change(Outcome.already, count, existing)
        if not course["published"]:
            return Change(Outcome.unpublished, count)
        if course["capacity"] is not None and count >= course["capacity"]:
            return Change(Outcome.full, count)
        enrolled_at = await conn.fetchval(
            """INSERT INTO enrollments (course_id, user_id) VALUES ($1, $2)
               RETURNING enrolled_at""",
            course_id, user_id,
        )  # fmt: skip
        count = await conn.fetchval(
            """UPDATE courses SET enrollment_count = enrollment_count + 1 WHERE id = $1
               RETURNING enrollment_count""",
            course_id,
        )
        return Change(Outcome.enrolled, count, enrolled_at)


async def unenroll(pool: asyncpg.Pool, *, course_id: uuid.UUID, user_id: uuid.UUID) -> Change:
    async with pool.acquire() as conn, conn.transaction():
        count = await conn.fetchval(
            "SELECT enrollment_count FROM courses WHERE id = $1 FOR UPDATE", course_id
        )
        if count is None:
            return Change(Outcome.missing)
        removed = await conn.fetchval(
            "DELETE FROM enrollments WHERE course_id = $1 AND user_id = $2 RETURNING true",
            course_id, user_id,
        )  # fmt: skip
        if not removed:
            return Change(Outcome.not_enrolled, count)
        count = await conn.fetchval(
            """UPDATE courses SET enrollment_count = enrollment_count - 1 WHERE id = $1
               RETURNING enrollment_count""",
            course_id,
        )
        return Change(Outcome.left, count)


async def enrolled_at(conn: Conn, *, course_id: uuid.UUID, user_id: uuid.UUID) -> datetime | None:
    value = await conn.fetchval(
        "SELECT enrolled_at FROM enrollments WHERE course_id = $1 AND user_id = $2",
        course_id, user_id,
    )  # fmt: skip
    return value if isinstance(value, datetime) else None


async def students(
    conn: Conn, course_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[list[Student], int]:
    """A course's students, latest enrolled first, and how many there are."""
    rows = await conn.fetch(
        """SELECT u.id, u.username, u.display_name, u.email, u.avatar_url, e.enrolled_at
           FROM enrollments e JOIN users u ON u.id = e.user_id
           WHERE e.course_id = $1
           ORDER BY e.enrolled_at DESC, e.user_id DESC LIMIT $2 OFFSET $3""",
        course_id, limit, offset,
    )  # fmt: skip
    total = await conn.fetchval("SELECT count(*) FROM enrollments WHERE course_id = $1", course_id)
    return [Student(**dict(row)) for row in rows], int(total or 0)


async def of_user(conn: Conn, user_id: uuid.UUID, *, limit: int) -> tuple[list[Enrolled], int]:
    """The courses a user is enrolled in, latest first (at most `limit`), and how many."""
    rows = await conn.fetch(
        """SELECT c.id AS course_id, c.title, c.level, u.display_name AS instructor_display_name,
                  e.enrolled_at
           FROM enrollments e
           JOIN courses c ON c.id = e.course_id
           JOIN users u ON u.id = c.instructor_id
           WHERE e.user_id = $1
           ORDER BY e.enrolled_at DESC, e.course_id DESC LIMIT $2""",
        user_id, limit,
    )  # fmt: skip
    total = await conn.fetchval("SELECT count(*) FROM enrollments WHERE user_id = $1", user_id)
    return [Enrolled(**dict(row)) for row in rows], int(total or 0)
