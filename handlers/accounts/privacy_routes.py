"""The account's personal data over HTTP: erase it (`DELETE /api/users/me`) or export it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from core.tokens import AccessClaims
from handlers.accounts.privacy import AccountPrivacy
from server.http.models import RequestModel, SuccessMessage
from server.http.responses import json_response
from server.http.routing import Auth, Router

SERVICE = web.AppKey("privacy", AccountPrivacy)

routes = Router("users")


class EraseRequest(RequestModel):
    password: str = Field(min_length=1, max_length=128, description="The account's password")


class AccountExport(BaseModel):
    """Every section is a list of rows (objects) but `account`; times are ISO 8601 UTC."""

    format: str = Field(description="`streamhub-export/1`")
    exported_at: str
    account: dict[str, Any] = Field(description="Profile, settings, role and counters")
    videos: list[dict[str, Any]] = Field(description="Videos the account published")
    comments: list[dict[str, Any]] = Field(description="Comments it wrote")
    likes: list[dict[str, Any]] = Field(description="Its reactions: target_type, target_id")
    following: list[dict[str, Any]] = Field(description="Accounts it follows")
    followers: list[dict[str, Any]] = Field(description="Accounts that follow it")
    enrollments: list[dict[str, Any]] = Field(description="Courses it is enrolled in")
    courses_taught: list[dict[str, Any]] = Field(description="Courses it teaches")
    sessions: list[dict[str, Any]] = Field(description="Its refresh tokens (no secrets)")
    favorites: list[dict[str, Any]] = Field(description="OnStream favorites")
    watch_history: list[dict[str, Any]] = Field(description="OnStream watch history")


@routes.delete(
    "/api/users/me",
    body=EraseRequest,
    response=SuccessMessage,
    auth=Auth.required,
    limit="auth",
    errors=(400, 401, 403, 404),
    summary="Erase your account and all your personal data (GDPR); asks for your password",
    description=(
        "In one transaction: your likes, follows (both ways), enrollments, videos (with their"
        " comments), favorites, watch history and sessions go; your comments go, except"
        " those others replied to, which are emptied and shown as by `[deleted]` so the"
        " replies stay. Every counter that"
        " counted your rows moves with them. Your WebSocket connections are closed on every"
        " node. Access tokens already issued fail from then on. A wrong password is a 403"
        " naming `password` (not a 401: the token is fine)."
    ),
)
async def erase_me(
    request: web.Request, *, user: AccessClaims, body: EraseRequest
) -> SuccessMessage:
    await request.app[SERVICE].erase(user, body.password)
    return SuccessMessage(message="Account and personal data erased")


@routes.get(
    "/api/users/me/export",
    response=AccountExport,
    auth=Auth.required,
    errors=(401, 404),
    summary="Download everything the service holds about you, as one JSON archive (GDPR)",
)
async def export_me(request: web.Request, *, user: AccessClaims) -> web.Response:
    data = await request.app[SERVICE].export(user)
    archive = {"format": "streamhub-export/1", "exported_at": datetime.now(UTC).isoformat()}
    return json_response(
        archive | data,
        headers={"Content-Disposition": 'attachment; filename="streamhub-export.json"'},
    )
