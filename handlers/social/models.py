"""Profiles and follows: CLUTCH's "User Follow System" and the torrent app's /api/users/me."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from core.roles import CourseRole
from server.http.models import DisplayName, RequestModel, Url, text_schema, trim
from server.http.pagination import Pagination

Bio = Annotated[
    str, StringConstraints(max_length=500), AfterValidator(trim), text_schema(500, not_blank=False)
]


class NotificationSettings(RequestModel):
    email: bool | None = None
    push: bool | None = None
    comments: bool | None = None
    followers: bool | None = None


class PrivacySettings(RequestModel):
    profile_visibility: Literal["public", "followers", "private"] | None = Field(
        default=None,
        description=(
            "public: anyone. followers: anyone who follows this user; following needs no"
            " approval, so this keeps the profile from people who do not follow, not from"
            " people the user has not approved. private: only the user and admins. Users"
            " whose profile a caller may not see are also left out of follower and following"
            " lists shown to that caller."
        ),
    )
    show_following: bool | None = None
    show_followers: bool | None = None


class SettingsPatch(RequestModel):
    notifications: NotificationSettings | None = None
    privacy: PrivacySettings | None = None


class ProfileUpdate(RequestModel):
    """Fields not sent keep their value; settings groups are merged key by key."""

    display_name: DisplayName | None = None
    bio: Bio | None = None
    avatar_url: Url | None = None
    settings: SettingsPatch | None = None


class PublicUser(BaseModel):
    id: uuid.UUID
    username: str
    display_name: str
    avatar_url: str
    bio: str
    verified: bool
    follower_count: int
    following_count: int
    created_at: datetime


class ProfileTotals(BaseModel):
    total_views: int
    total_videos: int
    total_likes_received: int


class PublicProfile(BaseModel):
    user: PublicUser
    profile: ProfileTotals
    is_following: bool = Field(description="Whether the caller follows this user")


class OwnUser(PublicUser):
    email: str
    email_verified: bool
    role: str
    course_role: CourseRole = Field(description="The role in OpenCourse's words")
    settings: dict[str, dict[str, bool | str]]


class EnrolledCourse(BaseModel):
    id: uuid.UUID
    title: str
    level: str
    instructor_display_name: str
    enrolled_at: datetime


class EnrollmentsSummary(BaseModel):
    total: int = Field(description="Courses the user is enrolled in")
    courses: list[EnrolledCourse] = Field(description="The latest ones, newest first (at most 10)")


class OwnProfile(BaseModel):
    user: OwnUser
    profile: ProfileTotals
    enrollments: EnrollmentsSummary = Field(description="OpenCourse: the enrolled courses")


class FollowResponse(BaseModel):
    success: bool = True
    following: bool
    follower_count: int


class FollowEntryOut(BaseModel):
    id: uuid.UUID
    username: str
    display_name: str
    avatar_url: str
    follower_count: int
    followed_at: datetime


class FollowersList(BaseModel):
    followers: list[FollowEntryOut]
    pagination: Pagination


class FollowingList(BaseModel):
    following: list[FollowEntryOut]
    pagination: Pagination
