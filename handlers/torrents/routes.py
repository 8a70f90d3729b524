"""The torrent app over HTTP (000): latest, search and detail for the signed-in app, categories,
and the scraper's API-key ingest."""

from __future__ import annotations

from aiohttp import web
from yarl import URL

from core.tokens import AccessClaims
from handlers.torrents.models import (
    MAX_BATCH,
    CategoryList,
    CategoryOut,
    FileOut,
    IngestItem,
    IngestRequest,
    IngestResponse,
    TorrentDetail,
    TorrentListQuery,
    TorrentOut,
    TorrentPage,
    TorrentResponse,
    TorrentSearchQuery,
)
from handlers.torrents.service import TorrentService, magnet
from server.http.responses import json_response
from server.http.routing import Auth, Router, path_uuid
from storage.torrents.torrents import COUNT_CAP, Filters, Torrent

SERVICE = web.AppKey("torrents", TorrentService)

routes = Router("torrents")

LIST_HEADERS = {
    "X-Total-Count": f"Matching torrents, counted up to {COUNT_CAP}",
    "Link": 'RFC 8288 rel="next" and rel="prev" links (same parameters, moved offset)',
}


def _service(request: web.Request) -> TorrentService:
    return request.app[SERVICE]


def _out(torrent: Torrent) -> TorrentOut:
    fields = {name: getattr(torrent, name) for name in TorrentOut.model_fields if name != "magnet"}
    return TorrentOut(**fields, magnet=magnet(torrent))


def _filters(query: TorrentListQuery) -> Filters:
    return Filters(
        category=query.category,
        min_seeders=query.min_seeders,
        min_size=query.min_size,
        max_size=query.max_size,
    )


def _page(url: URL, query: TorrentListQuery, found: list[Torrent], total: int) -> web.Response:
    own = set(type(query).model_fields) - {"offset", "page", "limit"}
    kept = [(k, v) for k, v in url.query.items() if k in own]
    links = []
    start = query.start
    if start + query.limit < total:
        target = url.with_query([*kept, ("offset", start + query.limit), ("limit", query.limit)])
        links.append(f'<{target.raw_path_qs}>; rel="next"')
    if start > 0:
        target = url.with_query(
            [*kept, ("offset", max(0, start - query.limit)), ("limit", query.limit)]
        )
        links.append(f'<{target.raw_path_qs}>; rel="prev"')
    headers = {"X-Total-Count": str(total)}
    if links:
        headers["Link"] = ", ".join(links)
    return json_response(TorrentPage([_out(t) for t in found]), headers=headers)


@routes.get(
    "/api/torrents/latest",
    query=TorrentListQuery,
    response=TorrentPage,
    response_headers=LIST_HEADERS,
    auth=Auth.required,
    errors=(400, 401),
    summary="The newest torrents (by publication), filterable; a JSON array",
)
async def latest(
    request: web.Request, *, user: AccessClaims, query: TorrentListQuery
) -> web.Response:
    found, total = await _service(request).latest(
        _filters(query), limit=query.limit, offset=query.start
    )
    return _page(request.rel_url, query, found, total)


@routes.get(
    "/api/torrents/search",
    query=TorrentSearchQuery,
    response=TorrentPage,
    response_headers={
        **LIST_HEADERS,
        "X-Search-Mode": "`words` (all words found) or `fuzzy` (none found: close spellings)",
    },
    auth=Auth.required,
    errors=(400, 401),
    summary="Search torrents by name and file paths, ranked, typo tolerant; a JSON array",
)
async def search(
    request: web.Request, *, user: AccessClaims, query: TorrentSearchQuery
) -> web.Response:
    page = await _service(request).search(
        query.q, _filters(query), sort=query.sort, limit=query.limit, offset=query.start
    )
    response = _page(request.rel_url, query, page.torrents, page.total)
    response.headers["X-Search-Mode"] = "fuzzy" if page.fuzzy else "words"
    return response


@routes.get(
    "/api/torrents/{torrent_id}",
    response=TorrentResponse,
    auth=Auth.required,
    errors=(400, 401, 404),
    summary="A torrent with its files, trackers and magnet link",
)
async def detail(request: web.Request, *, user: AccessClaims) -> TorrentResponse:
    torrent, files = await _service(request).get(path_uuid(request, "torrent_id"))
    out = _out(torrent)
    return TorrentResponse(
        torrent=TorrentDetail(
            **out.model_dump(),
            trackers=torrent.trackers,
            files=[FileOut(index=f.index, path=f.path, size=f.size) for f in files],
        )
    )


@routes.get(
    "/api/categories",
    response=CategoryList,
    errors=(),
    summary="Torrent categories with how many torrents each has",
)
async def categories(request: web.Request) -> CategoryList:
    found = await _service(request).categories()
    return CategoryList(
        categories=[CategoryOut.model_validate(c, from_attributes=True) for c in found]
    )


@routes.post(
    "/api/ingest",
    body=IngestRequest,
    response=IngestResponse,
    auth=Auth.api_key,
    limit="ingest",
    errors=(400, 401),
    summary=f"The scraper's bulk upsert by info hash (API key; 1 to {MAX_BATCH} torrents)",
    description=(
        "Authenticated by an API key with the `ingest` scope in `X-API-Key`, and rate limited"
        " per key (RATE_LIMIT_INGEST). Each torrent is validated on its own: the answer lists"
        " per item whether it was `created`, `updated` (a newer `seen_at` replaced seeders and"
        " leechers), `unchanged` (sent before, nothing newer) or `refused` (with the errors"
        " by field). The same batch twice changes nothing. The body must fit MAX_BODY_BYTES."
    ),
)
async def ingest(request: web.Request, *, api_key: str, body: IngestRequest) -> IngestResponse:
    outcomes = await _service(request).ingest(body.torrents)
    counts = {status: 0 for status in ("created", "updated", "unchanged", "refused")}
    for outcome in outcomes:
        counts[outcome.status] += 1
    return IngestResponse(
        **counts,
        results=[
            IngestItem(
                index=o.index, info_hash=o.info_hash, status=o.status,
                id=o.id, errors=o.errors,
            )
            for o in outcomes
        ],
    )  # fmt: skip
