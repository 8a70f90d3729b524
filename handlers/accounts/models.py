"""Authentication requests and responses, as CLUTCH's "Authentication Endpoints" writes them."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, Field, StringConstraints, WithJsonSchema

from core.roles import AnyRoleName, CourseRole
from server.http.models import DisplayName, RequestModel
from server.http.pagination import PageNumberQuery, Pagination

# CLUTCH "Input Validation Rules"
USERNAME_PATTERN = r"^[a-zA-Z0-9_]{3,30}$"
PASSWORD_MIN_LENGTH = 8
# Argon2 accepts any length; a cap stops a megabyte "password" from costing CPU for nothing.
PASSWORD_MAX_LENGTH = 128


def _check_password(value: str) -> str:
    problems = []
    if len(value) < PASSWORD_MIN_LENGTH:
        problems.append(f"at least {PASSWORD_MIN_LENGTH} characters")
    if not re.search(r"[A-Z]", value):
        problems.append("one uppercase letter")
    if not re.search(r"[0-9]", value):
        problems.append("one number")
    if problems:
        raise ValueError("Password must contain " + ", ".join(problems))
    return value


Username = Annotated[str, StringConstraints(pattern=USERNAME_PATTERN)]
# The same rule as `_check_password`, published in the schema (lookaheads: any order).
PASSWORD_SCHEMA_PATTERN = (
    rf"^(?=[^A-Z]*[A-Z])(?=[^0-9]*[0-9])[^\x00]{{{PASSWORD_MIN_LENGTH},{PASSWORD_MAX_LENGTH}}}$"
)
NewPassword = Annotated[
    str,
    Field(max_length=PASSWORD_MAX_LENGTH, json_schema_extra={"pattern": PASSWORD_SCHEMA_PATTERN}),
    AfterValidator(_check_password),
]


def _check_email(value: str) -> str:
    # pydantic's EmailStr refuses `.test` addresses (RFC 2606 reserves the name for testing),
    # which the schema's `format: email` cannot say: such an address is valid here.
    try:
        checked = validate_email(value, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise ValueError(f"value is not a valid email address: {exc}") from None
    return str(checked.normalized)


Email = Annotated[
    str,
    Field(max_length=254),
    AfterValidator(_check_email),
    WithJsonSchema({"type": "string", "format": "email", "maxLength": 254}, mode="validation"),
]


class RegisterRequest(RequestModel):
    username: Username = Field(description="3-30 characters: letters, digits, underscore")
    email: Email
    password: NewPassword = Field(description="8+ characters with an uppercase letter and a number")
    display_name: DisplayName | None = None


class LoginRequest(RequestModel):
    login: str = Field(min_length=1, max_length=254, description="Username or email")
    password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)


class SignUpRequest(RequestModel):
    """The torrent app's sign-up: email and password; a username is derived when absent."""

    email: Email
    password: NewPassword
    username: Username | None = None
    display_name: DisplayName | None = None


class SignInRequest(RequestModel):
    email: Email
    password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)


class RefreshRequest(RequestModel):
    refresh_token: str = Field(min_length=1, max_length=4096)


class LogoutRequest(RequestModel):
    refresh_token: str = Field(min_length=1, max_length=4096)


class AuthUser(BaseModel):
    id: uuid.UUID
    username: str
    email: str
    display_name: str
    avatar_url: str
    created_at: datetime
    follower_count: int
    following_count: int


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str


class AuthResponse(BaseModel):
    success: bool = True
    message: str
    user: AuthUser
    tokens: TokenPair


class MeUser(BaseModel):
    id: uuid.UUID
    username: str
    email: str
    display_name: str
    avatar_url: str
    bio: str
    follower_count: int
    following_count: int
    created_at: datetime
    verified: bool


class MeProfile(BaseModel):
    total_views: int
    total_videos: int
    total_likes_received: int


class MeResponse(BaseModel):
    user: MeUser
    profile: MeProfile


# --- accounts by email ----------------------------------------------------------------------

EmailToken = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class VerifyEmailRequest(RequestModel):
    token: EmailToken = Field(description="The `token` of the link in the confirmation mail")


class PasswordResetRequest(RequestModel):
    email: Email


class PasswordResetConfirm(RequestModel):
    token: EmailToken = Field(description="The `token` of the link in the reset mail")
    new_password: NewPassword = Field(
        description="8+ characters with an uppercase letter and a number"
    )


class EmailVerified(BaseModel):
    success: bool = True
    message: str
    email: str
    email_verified: bool


# --- users, as administrators see them (OpenCourse's words for roles) -----------------------


class UserListQuery(PageNumberQuery):
    q: Annotated[str, StringConstraints(max_length=100)] | None = Field(
        default=None, description="Part of a username, email or display name"
    )
    role: AnyRoleName | None = Field(
        default=None, description="student|instructor|administrator (or user|creator|admin)"
    )


class AccountOut(BaseModel):
    id: uuid.UUID
    username: str
    email: str
    display_name: str
    role: CourseRole = Field(description="In OpenCourse's words")
    email_verified: bool
    created_at: datetime
    last_login: datetime | None


class AccountList(BaseModel):
    success: bool = True
    users: list[AccountOut]
    pagination: Pagination


class RoleChange(RequestModel):
    role: AnyRoleName = Field(
        description="student|instructor|administrator (or user|creator|admin)"
    )


class AccountResponse(BaseModel):
    success: bool = True
    user: AccountOut
