"""People over HTTP: profiles (CLUTCH's privacy settings; the own profile that CLUTCH, the
torrent app and OpenCourse read at /api/users/me) and CLUTCH's "User Follow System" (follow,
unfollow, the two lists, the feed)."""

from __future__ import annotations

import uuid

from aiohttp import web

from core.errors import Unauthorized
from core.roles import course_role
from core.tokens import AccessClaims
from handlers.social.models import (
    EnrolledCourse,
    EnrollmentsSummary,
    FollowEntryOut,
    FollowersList,
    FollowingList,
    FollowResponse,
    OwnProfile,
    OwnUser,
    ProfileTotals,
    ProfileUpdate,
    PublicProfile,
    PublicUser,
)
from handlers.social.service import OwnAccount, SocialService
from server.http.pagination import PageQuery, Pagination
from server.http.routing import Auth, Router, path_uuid
from storage.social import follows
from storage.social.follows import Side

# This app's people service (profiles and follows), set by the composition root.
SERVICE = web.AppKey("social", SocialService)

routes = Router("users")


def _service(request: web.Request) -> SocialService:
    return request.app[SERVICE]


def user_ref(request: web.Request, user: AccessClaims | None) -> uuid.UUID:
    """The `{user_id}` of the path; `me` names the caller."""
    if request.match_info["user_id"] == "me":
        if user is None:
            raise Unauthorized("Authentication required: `me` names the signed-in user")
        return uuid.UUID(user.user_id)
    return path_uuid(request, "user_id")


def _own(own: OwnAccount) -> OwnProfile:
    account = own.account
    fields = {name: getattr(account, name) for name in account.__slots__}
    return OwnProfile(
        user=OwnUser.model_validate({**fields, "course_role": course_role(account.role)}),
        profile=ProfileTotals.model_validate(account, from_attributes=True),
        enrollments=EnrollmentsSummary(
            total=own.enrollments.total,
            courses=[
                EnrolledCourse(
                    id=course.course_id,
                    title=course.title,
                    level=course.level,
                    instructor_display_name=course.instructor_display_name,
                    enrolled_at=course.enrolled_at,
                )
                for course in own.enrollments.recent
            ],
        ),
    )


# --- profiles ------------------------------------------------------------------------------


@routes.get(
    "/api/users/me",
    response=OwnProfile,
    auth=Auth.required,
    errors=(401, 404),
    summary="Your profile, totals and settings",
)
async def get_me(request: web.Request, *, user: AccessClaims) -> OwnProfile:
    return _own(await _service(request).own_profile(viewer=user))


async def _update_me(request: web.Request, user: AccessClaims, body: ProfileUpdate) -> OwnProfile:
    settings = body.settings
    account = await _service(request).update_own_profile(
        viewer=user,
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
    account, following = await _service(request).profile(user_ref(request, user), viewer=user)
    return PublicProfile(
        user=PublicUser.model_validate(account, from_attributes=True),
        profile=ProfileTotals.model_validate(account, from_attributes=True),
        is_following=following,
    )


# --- follows -------------------------------------------------------------------------------


@routes.post(
    "/api/users/{user_id}/follow",
    response=FollowResponse,
    auth=Auth.required,
    errors=(400, 401, 404, 409),
    summary="Follow a user (idempotent); yourself: 409",
)
async def follow(request: web.Request, *, user: AccessClaims) -> FollowResponse:
    change = await _service(request).follow(user_ref(request, user), viewer=user)
    return FollowResponse(following=True, follower_count=change.follower_count)


@routes.delete(
    "/api/users/{user_id}/follow",
    response=FollowResponse,
    auth=Auth.required,
    errors=(400, 401, 404, 409),
    summary="Stop following a user (idempotent); yourself: 409",
)
async def unfollow(request: web.Request, *, user: AccessClaims) -> FollowResponse:
    change = await _service(request).unfollow(user_ref(request, user), viewer=user)
    return FollowResponse(following=False, follower_count=change.follower_count)


HIDDEN_ENTRIES = (
    "Users whose own profile the caller may not see (`private`, or `followers` and not"
    " followed by the caller) are left out of the list and of `total_items`."
)


async def _follow_page(
    request: web.Request, user: AccessClaims | None, query: PageQuery, side: Side
) -> tuple[list[FollowEntryOut], Pagination]:
    window = query.window(side, follows.KEY_TYPES)
    found, total = await _service(request).follow_list(
        user_ref(request, user), side, viewer=user, window=window
    )
    entries = [FollowEntryOut.model_validate(f, from_attributes=True) for f in found.items]
    return entries, Pagination.of(query, total, found, side)


@routes.get(
    "/api/users/{user_id}/followers",
    query=PageQuery,
    response=FollowersList,
    auth=Auth.optional,
    errors=(400, 401, 403, 404),
    summary="Who follows a user, most recent first",
    description=HIDDEN_ENTRIES,
)
async def list_followers(
    request: web.Request, *, user: AccessClaims | None, query: PageQuery
) -> FollowersList:
    entries, pagination = await _follow_page(request, user, query, "followers")
    return FollowersList(followers=entries, pagination=pagination)


@routes.get(
    "/api/users/{user_id}/following",
    query=PageQuery,
    response=FollowingList,
    auth=Auth.optional,
    errors=(400, 401, 403, 404),
    summary="Whom a user follows, most recent first",
    description='Entries as in the followers list, under the key "following". ' + HIDDEN_ENTRIES,
)
async def list_following(
    request: web.Request, *, user: AccessClaims | None, query: PageQuery
) -> FollowingList:
    entries, pagination = await _follow_page(request, user, query, "following")
    return FollowingList(following=entries, pagination=pagination)
