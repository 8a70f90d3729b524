"""The rules of people: who may see a profile and its follow lists (CLUTCH's privacy
settings), following, and the caller's own profile."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from core.aio import both
from core.errors import Conflict, Forbidden
from core.paging import Slice, Window
from core.tokens import AccessClaims
from handlers.courses.service import CourseService, EnrollmentSummary
from handlers.social.comment_service import CommentService as CommentService  # other domains
from handlers.social.events import SocialEvents
from storage.accounts import users
from storage.social import follows, profiles
from storage.social.follows import FollowChange, FollowEntry, Side

Viewer = AccessClaims | None


def privacy(account: users.User) -> dict[str, object]:
    return dict(account.settings.get("privacy") or {})


def _is_self_or_admin(account: users.User, viewer: Viewer) -> bool:
    return viewer is not None and (
        uuid.UUID(viewer.user_id) == account.id or viewer.role == "admin"
    )


@dataclass(frozen=True, slots=True)
class OwnAccount:
    """The caller's own account, with what the other contracts add to it (OpenCourse: the
    courses they are enrolled in)."""

    account: users.User
    enrollments: EnrollmentSummary


class SocialService:
    def __init__(self, *, db: asyncpg.Pool, events: SocialEvents, courses: CourseService) -> None:
        self.db = db
        self.events = events
        self.courses = courses

    async def may_see_profile(self, account: users.User, viewer: Viewer) -> bool:
        """CLUTCH privacy: profile_visibility is public, followers (who follow them) or private.

        "followers" means anyone who follows the user: following needs no approval. The same
        rule, in SQL, filters follow lists (storage/social/follows.py `_PROFILE_VISIBLE`).
        """
        if _is_self_or_admin(account, viewer):
            return True
        visibility = privacy(account).get("profile_visibility", "public")
        if visibility == "public":
            return True
        if visibility == "followers" and viewer is not None:
            return await follows.is_following(
                self.db, follower=uuid.UUID(viewer.user_id), following=account.id
            )
        return False

    async def profile(self, user_id: uuid.UUID, *, viewer: Viewer) -> tuple[users.User, bool]:
        """A user's profile if `viewer` may see it, and whether `viewer` follows them."""
        account = await users.get(self.db, user_id)
        if not await self.may_see_profile(account, viewer):
            raise Forbidden("This profile is private")
        following = viewer is not None and await follows.is_following(
            self.db, follower=uuid.UUID(viewer.user_id), following=account.id
        )
        return account, following

    async def own_profile(self, *, viewer: AccessClaims) -> OwnAccount:
        user_id = uuid.UUID(viewer.user_id)
        account, enrollments = await both(
            users.get(self.db, user_id), self.courses.summary(user_id)
        )
        return OwnAccount(account, enrollments)

    async def update_own_profile(self, *, viewer: AccessClaims, **changes: Any) -> OwnAccount:
        """Change display name, bio, avatar or settings groups; fields not given are kept."""
        user_id = uuid.UUID(viewer.user_id)
        account = await profiles.update(self.db, user_id, **changes)
        return OwnAccount(account, await self.courses.summary(user_id))

    async def follow(self, target: uuid.UUID, *, viewer: AccessClaims) -> FollowChange:
        """Follow `target` (idempotent); a new follow tells `target` on `user:{id}`."""
        change = await follows.follow(
            self.db, follower=self._not_self(target, viewer), following=target
        )
        if change.changed:
            await self.events.new_follower(target, viewer)
        return change

    async def unfollow(self, target: uuid.UUID, *, viewer: AccessClaims) -> FollowChange:
        return await follows.unfollow(
            self.db, follower=self._not_self(target, viewer), following=target
        )

    async def follow_list(
        self, user_id: uuid.UUID, side: Side, *, viewer: Viewer, window: Window
    ) -> tuple[Slice[FollowEntry], int]:
        """One page of a user's followers or following, if their privacy settings allow it.

        Listed users whose own profile `viewer` may not see (private, or followers-only and
        not followed by `viewer`) are left out, with their name and avatar.
        """
        account = await users.get(self.db, user_id)
        if not _is_self_or_admin(account, viewer) and (
            privacy(account).get(f"show_{side}") is False
            or not await self.may_see_profile(account, viewer)
        ):
            raise Forbidden("This user's privacy settings hide this list")
        return await follows.list_side(
            self.db,
            account.id,
            side,
            viewer=uuid.UUID(viewer.user_id) if viewer else None,
            viewer_is_admin=viewer is not None and viewer.role == "admin",
            window=window,
        )

    @staticmethod
    def _not_self(target: uuid.UUID, viewer: AccessClaims) -> uuid.UUID:
        me = uuid.UUID(viewer.user_id)
        if target == me:
            # A well-formed request the state of things refuses: a conflict, not a bad request.
            raise Conflict(
                "You cannot follow yourself", field_errors={"user_id": ["Cannot follow yourself"]}
            )
        return me
