"""The admin dashboard's reads and actions, each through the owning domain's service (the
dashboard adds no rule of its own: what an admin may do here, the API lets them do too)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from core.roles import parse_role
from core.tokens import AccessClaims
from handlers.accounts.service import AccountPrivacy, AccountService
from handlers.apikeys.service import ApiKeyService, NewKey
from handlers.health.service import HealthService
from handlers.social.service import CommentService
from handlers.torrents.service import TorrentService
from handlers.videos.service import VideoService
from storage import jobs
from storage.accounts.users import User
from storage.admin import content
from storage.apikeys.keys import ApiKey
from storage.torrents.torrents import Category, Filters, Torrent

PAGE_SIZE = 25


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[Any]
    total: int
    page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


@dataclass(frozen=True, slots=True)
class Health:
    checks: dict[str, str]
    jobs: list[jobs.KindStats]


class AdminService:
    def __init__(
        self,
        *,
        db: asyncpg.Pool,
        accounts: AccountService,
        privacy: AccountPrivacy,
        torrents: TorrentService,
        videos: VideoService,
        comments: CommentService,
        api_keys: ApiKeyService,
        health: HealthService,
    ) -> None:
        self.db = db
        self.accounts = accounts
        self.privacy = privacy
        self.torrents = torrents
        self.videos = videos
        self.comments = comments
        self.api_keys = api_keys
        self.health = health

    async def health_report(self) -> Health:
        return Health(await self.health.checks(), await jobs.stats(self.db))

    async def users(self, *, q: str | None, role: str | None, page: int) -> Page:
        found, total = await self.accounts.list_users(
            q=q, role=parse_role(role) if role else None, page=page, limit=PAGE_SIZE
        )
        return Page(found, total, page)

    async def set_role(self, user_id: uuid.UUID, role: str, *, by: AccessClaims) -> User:
        return await self.accounts.set_role(user_id, parse_role(role), by=by)

    async def set_disabled(self, user_id: uuid.UUID, disabled: bool, *, by: AccessClaims) -> None:
        await self.accounts.set_disabled(user_id, disabled, by=by)

    async def erase_user(self, user_id: uuid.UUID, *, by: AccessClaims) -> None:
        await self.privacy.erase_by_admin(user_id, by=by)

    async def torrent_page(self, *, q: str | None, category: str | None, page: int) -> Page:
        filters = Filters(category=category or None)
        offset = (page - 1) * PAGE_SIZE
        found: list[Torrent]
        if q:
            result = await self.torrents.search(
                q, filters, sort="date", limit=PAGE_SIZE, offset=offset
            )
            found, total = result.torrents, result.total
        else:
            found, total = await self.torrents.latest(filters, limit=PAGE_SIZE, offset=offset)
        return Page(found, total, page)

    async def categories(self) -> list[Category]:
        return await self.torrents.categories()

    async def video_page(self, *, q: str | None, page: int) -> Page:
        found, total = await content.videos(
            self.db, q=q, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
        )
        return Page(found, total, page)

    async def comment_page(self, *, q: str | None, page: int) -> Page:
        found, total = await content.comments(
            self.db, q=q, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
        )
        return Page(found, total, page)

    async def keys(self, caller: AccessClaims) -> list[ApiKey]:
        return await self.api_keys.list(caller)

    async def new_key(self, caller: AccessClaims, name: str) -> NewKey:
        return await self.api_keys.create(caller, name=name, scopes=["ingest"])
