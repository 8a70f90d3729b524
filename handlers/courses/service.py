"""The rules of OpenCourse: who sees, writes and joins which course.

- A published course is seen by everyone; a draft only by its instructor and admins (to
  anyone else it does not exist: 404, not 403, so drafts do not leak their ids).
- Instructors (`creator`) and admins create courses; a course is changed or deleted by its
  instructor or an admin (others: 403). The role is read from the database in the writing
  transaction, so a role an admin took away stops working at once, not when the token ends.
- Any signed-in account may enroll in a published course it does not teach, once
  (idempotent); a full course answers 409. Whether an unconfirmed email may enroll is a
  setting (ENROLLMENT_REQUIRES_VERIFIED_EMAIL).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from core.errors import Conflict, Forbidden, NotFound
from core.roles import ADMIN, PUBLISHERS
from core.tokens import AccessClaims
from storage.accounts import users
from storage.courses import courses, enrollments
from storage.courses.courses import Course, Sort, Status
from storage.courses.enrollments import Change, Enrolled, Outcome, Student

# How many enrolled courses `GET /users/me` lists (the count covers all of them).
SUMMARY_SIZE = 10


def _is_admin(viewer: AccessClaims | None) -> bool:
    return viewer is not None and viewer.role == ADMIN


def _teaches(viewer: AccessClaims | None, course: Course) -> bool:
    return viewer is not None and str(course.instructor.id) == viewer.user_id


@dataclass(frozen=True, slots=True)
class CourseView:
    course: Course
    is_enrolled: bool | None


@dataclass(frozen=True, slots=True)
class EnrollmentSummary:
    total: int
    recent: list[Enrolled]


class CourseService:
    def __init__(self, *, db: asyncpg.Pool, require_verified_email: bool) -> None:
        self.db = db
        self.require_verified_email = require_verified_email

    async def _visible(self, course_id: uuid.UUID, viewer: AccessClaims | None) -> Course:
        course = await courses.get(self.db, course_id)
        if not course.published and not (_teaches(viewer, course) or _is_admin(viewer)):
            raise NotFound("Course not found")
        return course

    async def _editable(
        self, conn: asyncpg.Connection, course_id: uuid.UUID, editor: AccessClaims
    ) -> Course:
        course = await courses.get(conn, course_id, lock=True)
        role = (await users.get(conn, uuid.UUID(editor.user_id))).role
        if role == ADMIN:
            return course
        if str(course.instructor.id) != editor.user_id:
            if not course.published:
                raise NotFound("Course not found")
            raise Forbidden("Only the course's instructor or an administrator can change it")
        if role not in PUBLISHERS:
            raise Forbidden("Your account is no longer an instructor")
        return course

    async def get(self, course_id: uuid.UUID, viewer: AccessClaims | None) -> CourseView:
        course = await self._visible(course_id, viewer)
        enrolled = None
        if viewer is not None:
            at = await enrollments.enrolled_at(
                self.db, course_id=course_id, user_id=uuid.UUID(viewer.user_id)
            )
            enrolled = at is not None
        return CourseView(course, enrolled)

    async def list_courses(
        self,
        viewer: AccessClaims | None,
        *,
        q: str | None,
        instructor_id: uuid.UUID | None,
        level: str | None,
        tag: str | None,
        status: Status,
        sort: Sort,
        limit: int,
        offset: int,
    ) -> tuple[list[Course], int]:
        return await courses.search(
            self.db,
            q=q,
            instructor_id=instructor_id,
            level=level,
            tag=tag,
            status=status,
            drafts_of=uuid.UUID(viewer.user_id) if viewer is not None else None,
            all_drafts=_is_admin(viewer),
            sort=sort,
            limit=limit,
            offset=offset,
        )

    async def create(self, author: AccessClaims, fields: dict[str, Any]) -> Course:
        async with self.db.acquire() as conn, conn.transaction():
            role = (await users.get(conn, uuid.UUID(author.user_id))).role
            if role not in PUBLISHERS:
                raise Forbidden("Only instructors and administrators can create courses")
            return await courses.create(
                conn, instructor_id=uuid.UUID(author.user_id), fields=fields
            )

    async def update(
        self, course_id: uuid.UUID, editor: AccessClaims, changes: dict[str, Any]
    ) -> Course:
        async with self.db.acquire() as conn, conn.transaction():
            course = await self._editable(conn, course_id, editor)
            capacity = changes.get("capacity", course.capacity)
            if capacity is not None and capacity < course.enrollment_count:
                raise Conflict(
                    f"{course.enrollment_count} students are enrolled: capacity cannot be lower",
                    field_errors={"capacity": [f"Must be at least {course.enrollment_count}"]},
                )
            if not changes:
                return course
            return await courses.update(conn, course_id, changes)

    async def delete(self, course_id: uuid.UUID, editor: AccessClaims) -> None:
        async with self.db.acquire() as conn, conn.transaction():
            await self._editable(conn, course_id, editor)
            await courses.delete(conn, course_id)

    async def enroll(self, course_id: uuid.UUID, student: AccessClaims) -> Change:
        user_id = uuid.UUID(student.user_id)
        course = await self._visible(course_id, student)
        if course.instructor.id == user_id:
            raise Conflict("You teach this course: instructors do not enroll in their own")
        if self.require_verified_email and not (await users.get(self.db, user_id)).email_verified:
            raise Forbidden(
                "Confirm your email address before enrolling (see the message we sent you)",
                details={"reason": "email_not_verified"},
            )
        change = await enrollments.enroll(self.db, course_id=course_id, user_id=user_id)
        if change.outcome is Outcome.missing:
            raise NotFound("Course not found")
        if change.outcome is Outcome.unpublished:
            raise Conflict("This course is a draft: it opens for enrollment when published")
        if change.outcome is Outcome.full:
            raise Conflict(
                f"This course is full ({change.enrollment_count} students)",
                details={"reason": "course_full", "capacity": course.capacity},
            )
        return change

    async def unenroll(self, course_id: uuid.UUID, student: AccessClaims) -> Change:
        """Leave a course (idempotent). A draft still lets its students leave."""
        change = await enrollments.unenroll(
            self.db, course_id=course_id, user_id=uuid.UUID(student.user_id)
        )
        if change.outcome is Outcome.missing:
            raise NotFound("Course not found")
        return change

    async def students(
        self, course_id: uuid.UUID, viewer: AccessClaims, *, limit: int, offset: int
    ) -> tuple[list[Student], int]:
        course = await self._visible(course_id, viewer)
        if not (_teaches(viewer, course) or _is_admin(viewer)):
            raise Forbidden(
                "Only the course's instructor or an administrator can list its students"
            )
        return await enrollments.students(self.db, course_id, limit=limit, offset=offset)

    async def summary(self, user_id: uuid.UUID) -> EnrollmentSummary:
        recent, total = await enrollments.of_user(self.db, user_id, limit=SUMMARY_SIZE)
        return EnrollmentSummary(total, recent)
