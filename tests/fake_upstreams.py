"""A local TMDb v3 + Consumet server, speaking their documented paths and JSON shapes.

TMDb: `/3/movie/popular`, `/3/tv/popular`, `/3/trending/{media_type}/{time_window}`,
`/3/movie/{id}`, `/3/tv/{id}`, `/3/search/multi`, `/3/genre/{movie,tv}/list`,
`/3/discover/{movie,tv}`; pages of 20 with `page`, `total_pages`, `total_results`; errors as
`{"success": false, "status_code": n, "status_message": "..."}` (7 invalid key, 34 not found,
25 over the request limit). Auth: `api_key` or `Authorization: Bearer`.
Consumet: `/meta/tmdb/info/{id}?type=` and `/meta/tmdb/watch/{episodeId}?id=&server=`.

Tell it to misbehave: `delay_s` (every answer), `fail_status` (every TMDb answer),
`rate_limit_next` (that many 429s with `Retry-After: retry_after`), `dead_servers`
(Consumet servers answering 500). `calls` counts requests by route template.
Movie and TV ids overlap on purpose (movie 1 and tv 1 both exist).
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from typing import Any

from aiohttp import web

API_KEY = "0123456789abcdef0123456789abcdef"
MOVIE_GENRES = [(28, "Action"), (35, "Comedy"), (18, "Drama"), (878, "Science Fiction")]
TV_GENRES = [(10759, "Action & Adventure"), (35, "Comedy"), (18, "Drama")]
PAGE = 20


def _movie(i: int) -> dict[str, Any]:
    return {
        "id": i, "title": f"Movie {i}", "original_title": f"Movie {i}",
        "overview": f"About movie {i}",
        "poster_path": f"/p{i}.jpg", "backdrop_path": f"/b{i}.jpg",
        "release_date": f"{1990 + i % 30}-0{1 + i % 9}-1{i % 10}",
        "genre_ids": [MOVIE_GENRES[i % 4][0]], "vote_average": round(5 + (i % 50) / 10, 1),
        "vote_count": 100 * i, "popularity": 1000.0 / i, "adult": False, "original_language": "en",
    }  # fmt: skip


def _tv(i: int) -> dict[str, Any]:
    return {
        "id": i, "name": f"Show {i}", "original_name": f"Show {i}", "overview": f"About show {i}",
        "poster_path": f"/tp{i}.jpg", "backdrop_path": None,
        "first_air_date": f"{2000 + i % 20}-05-01",
        "genre_ids": [TV_GENRES[i % 3][0]], "vote_average": 7.5, "vote_count": 50 * i,
        "popularity": 500.0 / i, "origin_country": ["US"],
    }  # fmt: skip


class FakeUpstreams:
    def __init__(self, movies: int = 100, shows: int = 40) -> None:
        self.movies = {i: _movie(i) for i in range(1, movies + 1)}
        self.shows = {i: _tv(i) for i in range(1, shows + 1)}
        self.calls: Counter[str] = Counter()
        self.delay_s = 0.0
        self.fail_status: int | None = None
        self.rate_limit_next = 0
        self.retry_after = "1"
        self.dead_servers: set[str] = set()
        self.app = web.Application(middlewares=[self._misbehave])
        r = self.app.router
        r.add_get("/3/genre/{kind}/list", self.genres)
        r.add_get("/3/{kind}/popular", self.popular)
        r.add_get("/3/discover/{kind}", self.discover)
        r.add_get("/3/trending/{kind}/{window}", self.trending)
        r.add_get("/3/search/multi", self.search)
        r.add_get("/3/{kind}/{id}", self.details)
        r.add_get("/meta/tmdb/info/{id}", self.info)
        r.add_get("/meta/tmdb/watch/{episode}", self.watch)
        r.add_get("/_calls", self.counted)  # for benchmarks in another process
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def tmdb_calls(self) -> int:
        return sum(n for route, n in self.calls.items() if route.startswith("/3/"))

    @staticmethod
    def error(status: int, code: int, message: str, **headers: str) -> web.Response:
        body = {"success": False, "status_code": code, "status_message": message}
        return web.json_response(body, status=status, headers=headers)

    @web.middleware
    async def _misbehave(self, request: web.Request, handler: Any) -> web.StreamResponse:
        route = request.match_info.route.resource
        self.calls[route.canonical if route else request.path] += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if request.path.startswith("/3/"):
            key = request.query.get("api_key")
            bearer = request.headers.get("Authorization", "") == f"Bearer {API_KEY}.x.y"
            if key != API_KEY and not bearer:
                return self.error(401, 7, "Invalid API key: You must be granted a valid key.")
            if self.rate_limit_next > 0:
                self.rate_limit_next -= 1
                return self.error(
                    429, 25, "Your request count (41) is over the allowed limit of (40).",
                    **{"Retry-After": self.retry_after},
                )  # fmt: skip
            if self.fail_status is not None:
                return self.error(self.fail_status, 11, "Internal error: Something went wrong.")
        return await handler(request)

    def _paged(self, items: list[dict[str, Any]], request: web.Request) -> web.Response:
        page = int(request.query.get("page", "1"))
        chunk = items[(page - 1) * PAGE : page * PAGE]
        return web.json_response(
            {
                "page": page,
                "results": chunk,
                "total_pages": max(1, math.ceil(len(items) / PAGE)),
                "total_results": len(items),
            }
        )

    def _table(self, kind: str) -> dict[int, dict[str, Any]]:
        return self.movies if kind == "movie" else self.shows

    async def counted(self, request: web.Request) -> web.Response:
        return web.json_response({k: v for k, v in self.calls.items() if k != "/_calls"})

    async def genres(self, request: web.Request) -> web.Response:
        pairs = MOVIE_GENRES if request.match_info["kind"] == "movie" else TV_GENRES
        return web.json_response({"genres": [{"id": i, "name": n} for i, n in pairs]})

    async def popular(self, request: web.Request) -> web.Response:
        items = sorted(
            self._table(request.match_info["kind"]).values(), key=lambda m: -m["popularity"]
        )
        return self._paged(items, request)

    async def discover(self, request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        items = list(self._table(kind).values())
        if "with_genres" in request.query:
            items = [m for m in items if int(request.query["with_genres"]) in m["genre_ids"]]
        year = request.query.get("primary_release_year") or request.query.get("first_air_date_year")
        date = "release_date" if kind == "movie" else "first_air_date"
        if year:
            items = [m for m in items if m[date].startswith(year)]
        field, _, _ = request.query.get("sort_by", "popularity.desc").partition(".")
        field = date if field in ("primary_release_date", "first_air_date") else field
        items.sort(key=lambda m: m[field], reverse=True)
        return self._paged(items, request)

    async def trending(self, request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        tagged = [{**m, "media_type": "movie"} for m in self.movies.values()]
        tagged += [{**s, "media_type": "tv"} for s in self.shows.values()]
        if kind != "all":
            tagged = [t for t in tagged if t["media_type"] == kind]
        if request.match_info["window"] == "week":
            tagged.reverse()
        return self._paged(tagged, request)

    async def search(self, request: web.Request) -> web.Response:
        words = request.query.get("query", "").lower()
        found = [
            {**m, "media_type": "movie"}
            for m in self.movies.values()
            if words in m["title"].lower()
        ]
        found += [
            {**s, "media_type": "tv"} for s in self.shows.values() if words in s["name"].lower()
        ]
        found.append({"id": 9, "name": f"{words} person", "media_type": "person", "known_for": []})
        return self._paged(found, request)

    async def details(self, request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        if kind not in ("movie", "tv") or not request.match_info["id"].isdigit():
            return self.error(404, 34, "The resource you requested could not be found.")
        item = self._table(kind).get(int(request.match_info["id"]))
        if item is None:
            return self.error(404, 34, "The resource you requested could not be found.")
        names = dict(MOVIE_GENRES if kind == "movie" else TV_GENRES)
        full = {k: v for k, v in item.items() if k != "genre_ids"}
        full["genres"] = [{"id": g, "name": names[g]} for g in item["genre_ids"]]
        if kind == "movie":
            full["runtime"] = 90 + item["id"] % 60
        else:
            full["episode_run_time"] = [42]
            full["number_of_seasons"] = 2
        return web.json_response(full)

    async def info(self, request: web.Request) -> web.Response:
        kind, tmdb_id = request.query.get("type", "movie"), int(request.match_info["id"])
        if tmdb_id not in self._table(kind):
            return web.json_response({"message": "Media not found"}, status=404)
        media_id = f"{kind}/watch-title-{tmdb_id}"
        if kind == "movie":
            return web.json_response(
                {"id": media_id, "title": f"Movie {tmdb_id}", "episodeId": str(tmdb_id)}
            )
        seasons = [
            {"season": s, "episodes": [{"id": f"{tmdb_id}-{s}-{e}", "episode": e} for e in (1, 2)]}
            for s in (1, 2)
        ]
        return web.json_response({"id": media_id, "title": f"Show {tmdb_id}", "seasons": seasons})

    async def watch(self, request: web.Request) -> web.Response:
        server = request.query.get("server", "vidcloud")
        if server in self.dead_servers:
            return web.json_response({"message": "server error"}, status=500)
        episode = request.match_info["episode"]
        sources = [
            {
                "url": f"https://cdn.{server}.example/{episode}/master.m3u8",
                "quality": "auto",
                "isM3U8": True,
            },
            {
                "url": f"https://cdn.{server}.example/{episode}/720.mp4",
                "quality": "720p",
                "isM3U8": False,
            },
        ]
        return web.json_response(
            {
                "headers": {"Referer": f"https://{server}.example/"},
                "sources": sources,
                "subtitles": [],
            }
        )
