"""OpenCourse's courses, enrollment and users, as its clients send and read them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from server.http.models import RequestModel, text_schema, trim, trim_not_blank
from server.http.pagination import PageNumberQuery, Pagination

MAX_TAGS = 20
MAX_TAG_LENGTH = 30

Level = Literal["beginner", "intermediate", "advanced"]
Title = Annotated[
    str,
    StringConstraints(max_length=200),
    AfterValidator(trim_not_blank),
    text_schema(200, not_blank=True),
]
Description = Annotated[
    str,
    StringConstraints(max_length=20000),
    AfterValidator(trim),
    text_schema(20000, not_blank=False),
]
Tag = Annotated[
    str,
    StringConstraints(max_length=MAX_TAG_LENGTH),
    AfterValidator(lambda value: trim_not_blank(value).lower()),
    text_schema(MAX_TAG_LENGTH, not_blank=True),
]
Tags = Annotated[
    list[Tag], Field(max_length=MAX_TAGS), AfterValidator(lambda tags: list(dict.fromkeys(tags)))
]
Capacity = Annotated[int, Field(ge=1, le=1_000_000)]


class CourseCreate(RequestModel):
    title: Title
    description: Description = ""
    level: Level = "beginner"
    tags: Tags = Field(default_factory=list)
    published: bool = Field(
        default=False, description="Drafts are seen only by their instructor and admins"
    )
    capacity: Capacity | None = Field(
        default=None, description="Most students at once; null: no limit"
    )


class CourseUpdate(RequestModel):
    """Fields not sent keep their value. `capacity: null` removes the limit."""

    title: Title | None = None
    description: Description | None = None
    level: Level | None = None
    tags: Tags | None = None
    published: bool | None = None
    capacity: Capacity | None = None

    def changes(self) -> dict[str, object]:
        sent = self.model_dump(exclude_unset=True)
        # null means "unchanged" for every field but capacity, where it means "no limit"
        return {k: v for k, v in sent.items() if v is not None or k == "capacity"}


class CourseListQuery(PageNumberQuery):
    q: Annotated[str, StringConstraints(max_length=100)] | None = Field(
        default=None, description="Words to find in the title or description (case-insensitive)"
    )
    instructor: uuid.UUID | None = Field(default=None, description="Only this instructor's courses")
    level: Level | None = None
    tag: Tag | None = Field(default=None, description="Only courses with this tag")
    sort: Literal["newest", "popular", "title"] = Field(
        default="newest", description="newest first, most enrolled first, or by title A-Z"
    )
    status: Literal["published", "draft", "all"] = Field(
        default="published",
        description="Drafts are listed for their instructor (their own) and admins (all);"
        " others get published courses only",
    )


class InstructorOut(BaseModel):
    id: uuid.UUID
    username: str
    display_name: str
    avatar_url: str


class CourseOut(BaseModel):
    id: uuid.UUID
    title: str
    description: str
    level: Level
    tags: list[str]
    published: bool
    capacity: int | None
    enrollment_count: int
    instructor: InstructorOut
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    is_enrolled: bool | None = Field(
        default=None, description="Whether the caller is enrolled (null when anonymous)"
    )


class CourseResponse(BaseModel):
    success: bool = True
    course: CourseOut


class CourseList(BaseModel):
    success: bool = True
    courses: list[CourseOut]
    pagination: Pagination


class EnrollmentResponse(BaseModel):
    success: bool = True
    enrolled: bool
    enrollment_count: int
    enrolled_at: datetime | None = None
    message: str


class StudentOut(BaseModel):
    id: uuid.UUID
    username: str
    display_name: str
    email: str
    avatar_url: str
    enrolled_at: datetime


class StudentList(BaseModel):
    success: bool = True
    students: list[StudentOut]
    pagination: Pagination
