"""Follows: CLUTCH's "User Follow System" (follow, unfollow, the two lists, the feed)."""

from __future__ import annotations

import uuid

from aiohttp import web

from core.errors import Forbidden, ValidationFailed
from core.tokens import AccessClaims
from handlers import events
from handlers.profiles import may_see_profile, privacy, user_ref
from handlers.schemas.pagination import PageQuery, Pagination
from handlers.schemas.users import FollowEntryOut, FollowersList, FollowingList, FollowResponse
from handlers.schemas.videos import VideoList, VideoOut
from server import keys
from server.routing import Auth, Router
from storage import follows, users, videos

routes = Router("follows")


def _other_user(request: web.Request, user: AccessClaims) -> uuid.UUID:
    target = user_ref(request, user)
    if target == uuid.UUID(user.user_id):
        raise ValidationFailed(
            "You cannot follow yourself", field_errors={"user_id": ["Cannot follow yourself"]}
        )
    return target


@routes.post(
    "/api/users/{user_id}/follow",
    response=FollowResponse,
    auth=Auth.required,
    errors=(400, 401, 404),
    summary="Follow a user (idempotent)",
)
async def follow(request: web.Request, *, user: AccessClaims) -> FollowResponse:
    target = _other_user(request, user)
    change = await follows.follow(
        request.app[keys.DB], follower=uuid.UUID(user.user_id), following=target
    )
    if change.changed:
        await events.new_follower(
            request,
            target,
            {
                "id": user.user_id,
                "username": user.username,
                "display_name": user.display_name,
                "avatar_url": user.avatar_url,
            },
        )
    return FollowResponse(following=True, follower_count=change.follower_count)


@routes.delete(
    "/api/users/{user_id}/follow",
    response=FollowResponse,
    auth=Auth.required,
    errors=(400, 401, 404),
    summary="Stop following a user (idempotent)",
)
async def unfollow(request: web.Request, *, user: AccessClaims) -> FollowResponse:
    target = _other_user(request, user)
    change = await follows.unfollow(
        request.app[keys.DB], follower=uuid.UUID(user.user_id), following=target
    )
    return FollowResponse(following=False, follower_count=change.follower_count)


async def _side(
    request: web.Request, user: AccessClaims | None, query: PageQuery, side: follows.Side
) -> tuple[list[FollowEntryOut], Pagination]:
    """One page of a user's followers or following, if their privacy settings allow it."""
    account = await _listable(request, user, f"show_{side}")
    found, total = await follows.list_side(
        request.app[keys.DB], account.id, side, page=query.page, limit=query.limit
    )
    entries = [FollowEntryOut.model_validate(f, from_attributes=True) for f in found]
    return entries, Pagination.of(query, total)


async def _listable(request: web.Request, user: AccessClaims | None, setting: str) -> users.User:
    """The user of the path, if their privacy settings let the caller see this list."""
    account = await users.get(request.app[keys.DB], user_ref(request, user))
    own = user is not None and (uuid.UUID(user.user_id) == account.id or user.role == "admin")
    if not own and (
        privacy(account).get(setting) is False or not await may_see_profile(request, account, user)
    ):
        raise Forbidden("This user's privacy settings hide this list")
    return account


@routes.get(
    "/api/users/{user_id}/followers",
    query=PageQuery,
    response=FollowersList,
    auth=Auth.optional,
    errors=(400, 401, 403, 404),
    summary="Who follows a user, most recent first",
)
async def list_followers(
    request: web.Request, *, user: AccessClaims | None, query: PageQuery
) -> FollowersList:
    entries, pagination = await _side(request, user, query, "followers")
    return FollowersList(followers=entries, pagination=pagination)


@routes.get(
    "/api/users/{user_id}/following",
    query=PageQuery,
    response=FollowingList,
    auth=Auth.optional,
    errors=(400, 401, 403, 404),
    summary="Whom a user follows, most recent first",
    description='Entries as in the followers list, under the key "following".',
)
async def list_following(
    request: web.Request, *, user: AccessClaims | None, query: PageQuery
) -> FollowingList:
    entries, pagination = await _side(request, user, query, "following")
    return FollowingList(following=entries, pagination=pagination)


@routes.get(
    "/api/users/me/following/videos",
    query=PageQuery,
    response=VideoList,
    auth=Auth.required,
    errors=(400, 401),
    summary="Your feed: public videos of the users you follow, newest first",
)
async def following_feed(
    request: web.Request, *, user: AccessClaims, query: PageQuery
) -> VideoList:
    where = videos.ListFilter(followed_by=uuid.UUID(user.user_id))
    found, total = await videos.list_page(
        request.app[keys.DB], where, sort="latest", page=query.page, limit=query.limit
    )
    return VideoList(videos=[VideoOut.of(v) for v in found], pagination=Pagination.of(query, total))
