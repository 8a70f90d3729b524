"""Profiles: public profiles (respecting privacy settings) and the caller's own (torrent app)."""

from __future__ import annotations

import uuid

from aiohttp import web

from core.errors import Forbidden, Unauthorized
from core.tokens import AccessClaims
from handlers.schemas.users import (
    OwnProfile,
    OwnUser,
    ProfileTotals,
    ProfileUpdate,
    PublicProfile,
    PublicUser,
)
from server import keys
from server.routing import Auth, Router, path_uuid
from storage import follows, profiles, users

routes = Router("users")


def user_ref(request: web.Request, user: AccessClaims | None) -> uuid.UUID:
    """The `{user_id}` of the path; `me` names the caller."""
    if request.match_info["user_id"] == "me":
        if user is None:
            raise Unauthorized("Authentication required: `me` names the signed-in user")
        return uuid.UUID(user.user_id)
    return path_uuid(request, "user_id")


def privacy(account: users.User) -> dict[str, object]:
    return dict(account.settings.get("privacy") or {})


async def may_see_profile(
    request: web.Request, account: users.User, user: AccessClaims | None
) -> bool:
    """CLUTCH privacy: profile_visibility is public, followers (who follow them) or private."""
    if user is not None and (uuid.UUID(user.user_id) == account.id or user.role == "admin"):
        return True
    visibility = privacy(account).get("profile_visibility", "public")
    if visibility == "public":
        return True
    if visibility == "followers" and user is not None:
        return await follows.is_following(
            request.app[keys.DB], follower=uuid.UUID(user.user_id), following=account.id
        )
    return False


def _own(account: users.User) -> OwnProfile:
    return OwnProfile(
        user=OwnUser.model_validate(account, from_attributes=True),
        profile=ProfileTotals.model_validate(account, from_attributes=True),
    )


@routes.get(
    "/api/users/me",
    response=OwnProfile,
    auth=Auth.required,
    errors=(401, 404),
    summary="Your profile, totals and settings",
)
async def get_me(request: web.Request, *, user: AccessClaims) -> OwnProfile:
    return _own(await users.get(request.app[keys.DB], uuid.UUID(user.user_id)))


async def _update_me(request: web.Request, user: AccessClaims, body: ProfileUpdate) -> OwnProfile:
    settings = body.settings
    account = await profiles.update(
        request.app[keys.DB],
        uuid.UUID(user.user_id),
        display_name=body.display_name,
        bio=body.bio,
        avatar_url=body.avatar_url,
        notifications=(
            settings.notifications.model_dump(exclude_none=True)
            if settings and settings.notifications
            else None
        ),
        privacy=(
            settings.privacy.model_dump(exclude_none=True)
            if settings and settings.privacy
            else None
        ),
    )
    return _own(account)


@routes.put(
    "/api/users/me",
    body=ProfileUpdate,
    response=OwnProfile,
    auth=Auth.required,
    errors=(400, 401, 404),
    summary="Update your display name, bio, avatar or settings (fields not sent are kept)",
)
async def put_me(request: web.Request, *, user: AccessClaims, body: ProfileUpdate) -> OwnProfile:
    return await _update_me(request, user, body)


@routes.patch(
    "/api/users/me",
    body=ProfileUpdate,
    response=OwnProfile,
    auth=Auth.required,
    errors=(400, 401, 404),
    summary="Same as PUT /api/users/me",
)
async def patch_me(request: web.Request, *, user: AccessClaims, body: ProfileUpdate) -> OwnProfile:
    return await _update_me(request, user, body)


@routes.get(
    "/api/users/{user_id}",
    response=PublicProfile,
    auth=Auth.optional,
    errors=(400, 401, 403, 404),
    summary="A user's public profile (403 when their privacy settings hide it from you)",
)
async def get_profile(request: web.Request, *, user: AccessClaims | None) -> PublicProfile:
    db = request.app[keys.DB]
    account = await users.get(db, user_ref(request, user))
    if not await may_see_profile(request, account, user):
        raise Forbidden("This profile is private")
    following = user is not None and await follows.is_following(
        db, follower=uuid.UUID(user.user_id), following=account.id
    )
    return PublicProfile(
        user=PublicUser.model_validate(account, from_attributes=True),
        profile=ProfileTotals.model_validate(account, from_attributes=True),
        is_following=following,
    )
