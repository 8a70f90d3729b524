"""Courses (table `courses`, migration 0031) with their instructor."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import asyncpg

from core.errors import NotFound
from storage.db import Conn, contains_pattern

Sort = Literal["newest", "popular", "title"]
# Which courses a list shows: published ones, drafts, or both. Drafts are further limited by
# `drafts_of` (an instructor sees their own; None with `all_drafts` for admins).
Status = Literal["published", "draft", "all"]


@dataclass(frozen=True, slots=True)
class Instructor:
    id: uuid.UUID
    username: str
    display_name: str
    avatar_url: str


@dataclass(frozen=True, slots=True)
class Course:
    id: uuid.UUID
    title: str
    description: str
    level: str
    tags: list[str]
    published: bool
    capacity: int | None
    enrollment_count: int
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    instructor: Instructor


_COLUMNS = """c.id, c.title, c.description, c.level, c.tags, c.published, c.capacity,
    c.enrollment_count, c.created_at, c.updated_at, c.published_at,
    u.id AS instructor_id, u.username AS instructor_username,
    u.display_name AS instructor_display_name, u.avatar_url AS instructor_avatar_url"""
_FROM = "courses c JOIN users u ON u.id = c.instructor_id"

_ORDER = {
    "newest": "c.created_at DESC, c.id DESC",
    "popular": "c.enrollment_count DESC, c.id DESC",
    "title": "lower(c.title), c.id",
}
# Columns a course update may set.
EDITABLE = ("title", "description", "level", "tags", "published", "capacity")


def course_from(row: asyncpg.Record) -> Course:
    values = dict(row)
    instructor = Instructor(
        id=values.pop("instructor_id"),
        username=values.pop("instructor_username"),
        display_name=values.pop("instructor_display_name"),
        avatar_url=values.pop("instructor_avatar_url"),
    )
    return Course(**values, instructor=instructor)


async def create(conn: Conn, *, instructor_id: uuid.UUID, fields: dict[str, Any]) -> Course:
    row = await conn.fetchrow(
        f"""WITH c AS (
                INSERT INTO courses (instructor_id, title, description, level, tags, published,
                                     capacity, published_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $6 THEN now() END)
                RETURNING *)
            SELECT {_COLUMNS} FROM c JOIN users u ON u.id = c.instructor_id""",
        instructor_id, fields["title"], fields.get("description", ""), fields["level"],
        fields.get("tags", []), fields.get("published", False), fields.get("capacity"),
    )  # fmt: skip
    assert row is not None
    return course_from(row)


async def get(conn: Conn, course_id: uuid.UUID, *, lock: bool = False) -> Course:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM {_FROM} WHERE c.id = $1{' FOR UPDATE OF c' if lock else ''}",
        course_id,
    )
    if row is None:
        raise NotFound("Course not found")
    return course_from(row)


async def update(conn: Conn, course_id: uuid.UUID, fields: dict[str, Any]) -> Course:
    """Set `fields` (names of EDITABLE; None for capacity means no limit). Publishing for the
    first time stamps published_at."""
    names = [name for name in EDITABLE if name in fields]
    sets = [f"{name} = ${i + 2}" for i, name in enumerate(names)]
    sets.append("updated_at = now()")
    if "published" in names:
        flag = f"${names.index('published') + 2}"
        sets.append(f"published_at = coalesce(c.published_at, CASE WHEN {flag} THEN now() END)")
    row = await conn.fetchrow(
        f"""WITH c AS (
                UPDATE courses c SET {", ".join(sets)} WHERE c.id = $1 RETURNING c.*)
            SELECT {_COLUMNS} FROM c JOIN users u ON u.id = c.instructor_id""",
        course_id, *(fields[name] for name in names),
    )  # fmt: skip
    if row is None:
        raise NotFound("Course not found")
    return course_from(row)


async def delete(conn: Conn, course_id: uuid.UUID) -> bool:
    """Delete a course and (cascade) its enrollments."""
    status = await conn.execute("DELETE FROM courses WHERE id = $1", course_id)
    return status != "DELETE 0"


async def search(
    conn: Conn,
    *,
    q: str | None,
    instructor_id: uuid.UUID | None,
    level: str | None,
    tag: str | None,
    status: Status,
    drafts_of: uuid.UUID | None,
    all_drafts: bool,
    sort: Sort,
    limit: int,
    offset: int,
) -> tuple[list[Course], int]:
    """One page of courses and the total. Drafts are listed only when `status` asks for them,
    and then only `drafts_of`'s own (all of them with `all_drafts`)."""
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    where = ["c.published"]
    if status != "published":
        if all_drafts:
            drafts = "NOT c.published"
        elif drafts_of is not None:
            drafts = f"NOT c.published AND c.instructor_id = {arg(drafts_of)}"
        else:
            drafts = "false"
        where = [drafts] if status == "draft" else [f"(c.published OR ({drafts}))"]
    if q:
        pattern = arg(contains_pattern(q.lower()))
        where.append(f"lower(c.title) || ' ' || lower(c.description) LIKE {pattern}")
    if instructor_id is not None:
        where.append(f"c.instructor_id = {arg(instructor_id)}")
    if level is not None:
        where.append(f"c.level = {arg(level)}")
    if tag is not None:
        where.append(f"c.tags @> ARRAY[{arg(tag)}]::text[]")
    clause = " AND ".join(where)
    total = await conn.fetchval(f"SELECT count(*) FROM courses c WHERE {clause}", *args)
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM {_FROM} WHERE {clause}
            ORDER BY {_ORDER[sort]} LIMIT {arg(limit)} OFFSET {arg(offset)}""",
        *args,
    )
    return [course_from(row) for row in rows], int(total or 0)
