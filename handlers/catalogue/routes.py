"""OnStream's "Movies & TV Shows" over HTTP: list, details, stream sources, search, trending,
genres. Every answer says how fresh it is (`X-Cache`); each costs the `catalogue` budget
(OnStream: 100 requests per minute per IP) besides the general one."""

from __future__ import annotations

import orjson
from aiohttp import web

from handlers.catalogue.cache import Entry
from handlers.catalogue.models import (
    CACHE_HEADERS,
    BrowseQuery,
    GenreList,
    GenresQuery,
    MovieAnswer,
    SearchQuery,
    StreamAnswer,
    StreamQuery,
    TitleList,
    TrendingList,
    TrendingQuery,
)
from handlers.catalogue.service import CatalogueService, StoredPage
from handlers.catalogue.titles import ID_RULE, ID_SCHEMA, TitleRef
from server.http.routing import Router

# This app's catalogue service, set by the composition root.
SERVICE = web.AppKey("catalogue", CatalogueService)
LIMIT = "catalogue"
ERRORS = (400, 404, 429, 503)

routes = Router("catalogue")


def _service(request: web.Request) -> CatalogueService:
    return request.app[SERVICE]


def _answer(body: bytes, entry: Entry) -> web.Response:
    headers = {"X-Cache": entry.state.upper()}
    if entry.state == "stale":
        headers["Warning"] = '110 - "Response is Stale"'
    return web.Response(body=body, content_type="application/json", headers=headers)


def _list_body(page: StoredPage, **extra: object) -> bytes:
    """A `TitleList` from a cached page (its titles as stored, already in the output shape)."""
    number, pages = page["page"], page["total_pages"]
    pagination = {
        "current_page": number,
        "total_pages": pages,
        "total_items": page["total_results"],
        "has_next": number < pages,
        "has_prev": number > 1,
    }
    return orjson.dumps(
        {"success": True, **extra, "results": page["results"], "pagination": pagination}
    )


@routes.get(
    "/api/movies",
    query=BrowseQuery,
    response=TitleList,
    response_headers=CACHE_HEADERS,
    limit=LIMIT,
    errors=ERRORS,
    summary="Movies or TV shows, 20 a page: filter by genre and year, sort by popularity,"
    " release date or rating",
)
async def list_titles(request: web.Request, *, query: BrowseQuery) -> web.Response:
    page, entry = await _service(request).browse(query)
    return _answer(_list_body(page), entry)


@routes.get(
    "/api/movies/{id}",
    path_schemas={"id": ID_SCHEMA},
    response=MovieAnswer,
    response_headers=CACHE_HEADERS,
    limit=LIMIT,
    errors=ERRORS,
    summary="One movie or TV show (OnStream's Movie Cache Model)",
    description=ID_RULE + " So `/api/movies/tv-1399` is a show, `/api/movies/550` a movie.",
)
async def get_title(request: web.Request) -> web.Response:
    ref = TitleRef.parse(request.match_info["id"])
    body, entry = await _service(request).title_answer(ref)
    return _answer(body, entry)


@routes.get(
    "/api/movies/{id}/stream",
    path_schemas={"id": ID_SCHEMA},
    query=StreamQuery,
    response=StreamAnswer,
    response_headers=CACHE_HEADERS,
    limit=LIMIT,
    errors=ERRORS,
    summary="Stream sources of a movie, or of one episode of a show (season, episode)",
    description=ID_RULE + " Sources are cached for an hour; a failing server or provider is"
    " skipped for the next one and never cached.",
)
async def get_streams(request: web.Request, *, query: StreamQuery) -> web.Response:
    ref = TitleRef.parse(request.match_info["id"])
    body, entry = await _service(request).streams(ref, query)
    return _answer(body, entry)


@routes.get(
    "/api/search",
    query=SearchQuery,
    response=TitleList,
    response_headers=CACHE_HEADERS,
    limit=LIMIT,
    errors=ERRORS,
    summary="Search movies and shows by title words; filter by type, genre and year",
    description="With `q`, filters apply to each page of title matches (a page may hold fewer"
    " than 20; `pagination` counts the matches before filtering). Without `q` (or with a"
    " blank one) the filters browse like GET /api/movies: popular movies when none is given.",
)
async def search(request: web.Request, *, query: SearchQuery) -> web.Response:
    page, entry = await _service(request).search(query)
    return _answer(_list_body(page), entry)


@routes.get(
    "/api/trending",
    query=TrendingQuery,
    response=TrendingList,
    response_headers=CACHE_HEADERS,
    limit=LIMIT,
    errors=ERRORS,
    summary="Trending movies and shows of the day or the week",
)
async def trending(request: web.Request, *, query: TrendingQuery) -> web.Response:
    page, entry = await _service(request).trending(query)
    return _answer(_list_body(page, window=query.window), entry)


@routes.get(
    "/api/genres",
    query=GenresQuery,
    response=GenreList,
    response_headers=CACHE_HEADERS,
    limit=LIMIT,
    errors=ERRORS,
    summary="Genres of movies and of TV shows (ids for the `genre` filters)",
)
async def genres(request: web.Request, *, query: GenresQuery) -> web.Response:
    service = _service(request)
    found, entries = [], []
    for kind in ("movie", "tv") if query.type is None else (query.type,):
        listed, entry = await service.genres(kind)
        found += listed
        entries.append(entry)
    worst = min(entries, key=lambda e: ("stale", "miss", "hit").index(e.state))
    body = orjson.dumps({"success": True, "genres": [g.model_dump() for g in found]})
    return _answer(body, worst)
