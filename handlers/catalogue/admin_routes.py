"""OnStream's "Admin Features (Admin JWT Protected)" over HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from core.tokens import AccessClaims
from handlers.catalogue.admin import CatalogueAdmin
from handlers.catalogue.library import pagination
from handlers.catalogue.library_models import LibraryPageQuery
from handlers.catalogue.models import CataloguePagination
from server.http.routing import Auth, Router

# This app's catalogue admin service, set by the composition root.
SERVICE = web.AppKey("catalogue_admin", CatalogueAdmin)
ADMINS = frozenset({"admin"})
ERRORS = (400, 401, 403)

routes = Router("admin")


class CatalogueFigures(BaseModel):
    source: str = Field(description="tmdb, or demo when TMDB_API_KEY is unset")
    titles_stored: int = Field(description="Titles kept in Postgres for favorites and history")
    cached_entries: dict[str, int] = Field(description="Entries in the cache, per kind")


class CacheFigures(BaseModel):
    hits: int
    misses: int
    stale_served: int
    hit_ratio: float | None = Field(description="hits / (hits + misses); null before any read")


class ProviderFigures(BaseModel):
    calls: int
    errors: int
    mean_latency_ms: float


class AdminStats(BaseModel):
    success: bool
    users: int
    favorites: int
    history_entries: int
    catalogue: CatalogueFigures
    cache: CacheFigures
    upstream: dict[str, ProviderFigures] = Field(
        description="Per provider, since the cache's stats began"
    )


class UsersQuery(LibraryPageQuery):
    q: str | None = Field(
        default=None, min_length=1, max_length=100, description="Part of username, email or name"
    )


class AdminUser(BaseModel):
    id: str
    username: str
    email: str
    display_name: str
    role: str
    is_admin: bool
    created_at: datetime
    last_login: datetime | None


class AdminUserList(BaseModel):
    success: bool
    users: list[AdminUser]
    pagination: CataloguePagination


class ClearCache(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["all", "metadata", "streams", "search"] = "all"


class Cleared(BaseModel):
    success: bool
    kind: str
    deleted: int = Field(description="Cache keys deleted")


def _service(request: web.Request) -> CatalogueAdmin:
    return request.app[SERVICE]


@routes.get(
    "/api/admin/stats",
    response=AdminStats,
    auth=Auth.required,
    roles=ADMINS,
    errors=(401, 403),
    summary="System figures: users, favorites, history, catalogue size, cache and upstream",
)
async def stats(request: web.Request, *, user: AccessClaims) -> AdminStats:
    return AdminStats.model_validate({"success": True, **await _service(request).stats()})


@routes.get(
    "/api/admin/users",
    query=UsersQuery,
    response=AdminUserList,
    auth=Auth.required,
    roles=ADMINS,
    errors=ERRORS,
    summary="Every account, newest first; q searches username, email and display name",
)
async def users(request: web.Request, *, user: AccessClaims, query: UsersQuery) -> AdminUserList:
    found, total = await _service(request).accounts.list_users(
        q=query.q, role=None, page=query.page, limit=query.limit
    )
    shown = [
        AdminUser(
            id=str(u.id),
            username=u.username,
            email=u.email,
            display_name=u.display_name,
            role=u.role,
            is_admin=u.role == "admin",
            created_at=u.created_at,
            last_login=u.last_login,
        )
        for u in found
    ]
    return AdminUserList(success=True, users=shown, pagination=pagination(query, total))


@routes.post(
    "/api/admin/cache/clear",
    body=ClearCache,
    response=Cleared,
    auth=Auth.required,
    roles=ADMINS,
    errors=ERRORS,
    summary="Clear the catalogue cache: all of it, or one kind (metadata, streams, search)",
    description="Users' favorites and history are not cached and are untouched. The next"
    " read of each cleared entry calls the provider again (once across the cluster).",
)
async def clear_cache(request: web.Request, *, user: AccessClaims, body: ClearCache) -> Cleared:
    kind = None if body.kind == "all" else body.kind
    deleted = await _service(request).clear_cache(kind)
    return Cleared(success=True, kind=body.kind, deleted=deleted)
