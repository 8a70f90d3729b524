"""Favorites and watch history over HTTP (OnStream's "User Features (JWT Protected)").
Each acts on the caller's own rows; a title is named by its id (`movie-550`, `tv-1399`)."""

from __future__ import annotations

import uuid

from aiohttp import web

from core.tokens import AccessClaims
from handlers.catalogue.library import LibraryService
from handlers.catalogue.library_models import (
    FavoriteAnswer,
    FavoriteIn,
    FavoriteList,
    HistoryAnswer,
    HistoryList,
    HistoryQuery,
    LibraryPageQuery,
    ProgressIn,
    Removed,
)
from handlers.catalogue.titles import ID_RULE, ID_SCHEMA, TitleRef
from server.http.routing import Auth, Router

# This app's library service, set by the composition root.
SERVICE = web.AppKey("catalogue_library", LibraryService)
LIMIT = "catalogue"
ERRORS = (400, 401, 429)

routes = Router("library")


def _service(request: web.Request) -> LibraryService:
    return request.app[SERVICE]


def _me(user: AccessClaims) -> uuid.UUID:
    return uuid.UUID(user.user_id)


@routes.post(
    "/api/favorites",
    body=FavoriteIn,
    response=FavoriteAnswer,
    auth=Auth.required,
    limit=LIMIT,
    errors=(*ERRORS, 404, 503),
    summary="Add a title to your favorites (idempotent: `created` says whether it was new)",
    description=ID_RULE,
)
async def add_favorite(
    request: web.Request, *, user: AccessClaims, body: FavoriteIn
) -> FavoriteAnswer:
    ref = TitleRef.parse(body.movie_id, "movie_id")
    favorite, created = await _service(request).add_favorite(user_id=_me(user), ref=ref)
    return FavoriteAnswer(success=True, favorite=favorite, created=created)


@routes.delete(
    "/api/favorites/{id}",
    path_schemas={"id": ID_SCHEMA},
    response=Removed,
    auth=Auth.required,
    limit=LIMIT,
    errors=(*ERRORS, 404),
    summary="Remove a title from your favorites (404 when it is not one)",
    description=ID_RULE,
)
async def remove_favorite(request: web.Request, *, user: AccessClaims) -> Removed:
    ref = TitleRef.parse(request.match_info["id"])
    await _service(request).remove_favorite(user_id=_me(user), ref=ref)
    return Removed(success=True, message="Removed from favorites")


@routes.get(
    "/api/favorites",
    query=LibraryPageQuery,
    response=FavoriteList,
    auth=Auth.required,
    limit=LIMIT,
    errors=ERRORS,
    summary="Your favorites, newest first",
)
async def list_favorites(
    request: web.Request, *, user: AccessClaims, query: LibraryPageQuery
) -> FavoriteList:
    found, pages = await _service(request).favorites(user_id=_me(user), query=query)
    return FavoriteList(success=True, favorites=found, pagination=pages)


@routes.post(
    "/api/watch-history",
    body=ProgressIn,
    response=HistoryAnswer,
    auth=Auth.required,
    limit=LIMIT,
    errors=(*ERRORS, 404, 503),
    summary="Report how far you watched a title: one entry per title, updated in place",
    description="`watched_at` moves to now; your other connected devices get `watch_progress`"
    " on `user:{id}` (docs/PROTOCOL.md). " + ID_RULE,
)
async def record_progress(
    request: web.Request, *, user: AccessClaims, body: ProgressIn
) -> HistoryAnswer:
    entry = await _service(request).record_progress(
        user_id=_me(user),
        ref=TitleRef.parse(body.movie_id, "movie_id"),
        progress=body.progress,
        runtime=body.runtime,
        device_id=body.device_id,
    )
    return HistoryAnswer(success=True, entry=entry)


@routes.get(
    "/api/watch-history",
    query=HistoryQuery,
    response=HistoryList,
    auth=Auth.required,
    limit=LIMIT,
    errors=ERRORS,
    summary="Your watch history, most recently watched first (unfinished=true: continue watching)",
)
async def list_history(
    request: web.Request, *, user: AccessClaims, query: HistoryQuery
) -> HistoryList:
    found, pages = await _service(request).history(
        user_id=_me(user), query=query, unfinished_only=query.unfinished
    )
    return HistoryList(success=True, history=found, pagination=pages)


@routes.delete(
    "/api/watch-history/{id}",
    path_schemas={"id": ID_SCHEMA},
    response=Removed,
    auth=Auth.required,
    limit=LIMIT,
    errors=(*ERRORS, 404),
    summary="Remove a title from your watch history (404 when it is not there)",
    description=ID_RULE,
)
async def remove_history(request: web.Request, *, user: AccessClaims) -> Removed:
    ref = TitleRef.parse(request.match_info["id"])
    await _service(request).remove_history(user_id=_me(user), ref=ref)
    return Removed(success=True, message="Removed from watch history")
