"""Accounts as administrators manage them: OpenCourse's `GET /api/v1/users` and role changes.

Roles are shown in OpenCourse's words (core/roles.py) and accepted in either vocabulary.
"""

from __future__ import annotations

import uuid

from aiohttp import web

from core.roles import ADMIN, course_role, parse_role
from core.tokens import AccessClaims
from handlers.accounts.models import (
    AccountList,
    AccountOut,
    AccountResponse,
    RoleChange,
    UserListQuery,
)
from handlers.accounts.routes import SERVICE
from server.http.pagination import Pagination
from server.http.routing import Auth, Router, path_uuid
from storage.accounts.users import User

routes = Router("users")
ADMINS = frozenset({ADMIN})


def _account(user: User) -> AccountOut:
    return AccountOut(
        id=user.id,
        username=user.username,
        email=user.email,
        display_name=user.display_name,
        role=course_role(user.role),
        email_verified=user.email_verified,
        created_at=user.created_at,
        last_login=user.last_login,
    )


@routes.get(
    "/api/users",
    query=UserListQuery,
    response=AccountList,
    auth=Auth.required,
    roles=ADMINS,
    errors=(400, 401, 403),
    summary="Accounts, newest first: search by name or email, filter by role (administrators)",
)
async def list_users(
    request: web.Request, *, user: AccessClaims, query: UserListQuery
) -> AccountList:
    found, total = await request.app[SERVICE].list_users(
        q=query.q,
        role=parse_role(query.role) if query.role else None,
        page=query.page,
        limit=query.limit,
    )
    return AccountList(
        users=[_account(account) for account in found],
        pagination=Pagination.of(query, total),
    )


@routes.put(
    "/api/users/{user_id}/role",
    body=RoleChange,
    response=AccountResponse,
    auth=Auth.required,
    roles=ADMINS,
    errors=(400, 401, 403, 404, 409),
    summary="Change an account's role (administrators)",
    description=(
        "Takes effect at once for writes that check the role in the database (courses);"
        " the account's access tokens carry the old role until they expire, its next refresh"
        " the new one. An administrator cannot change their own role (409): an installation"
        " must not lose its last administrator by a slip."
    ),
)
async def change_role(
    request: web.Request, *, user: AccessClaims, body: RoleChange
) -> AccountResponse:
    target: uuid.UUID = path_uuid(request, "user_id")
    account = await request.app[SERVICE].set_role(target, parse_role(body.role), by=user)
    return AccountResponse(user=_account(account))
