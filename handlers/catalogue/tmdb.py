"""A TMDb v3 client: the paths and JSON shapes of developer.themoviedb.org, turned into our
`Title`s. Authentication is the v3 key as `api_key`, or a v4 read access token as Bearer.

Genre names: list endpoints give `genre_ids`; the two genre lists are read once per
`GENRE_TTL_S` per process to name them (and are themselves cached by the service)."""

from __future__ import annotations

import time
from typing import Any, Literal, Protocol

from handlers.catalogue.titles import Genre, MediaType, Title, TitlePage
from handlers.catalogue.upstream import Policy, Upstream

Sort = Literal["popularity", "release_date", "rating"]
Window = Literal["day", "week"]
GENRE_TTL_S = 24 * 3600
MAX_PAGE = 500  # TMDb answers no page past 500


class MetadataSource(Protocol):
    """What the catalogue reads titles from: TMDb, or the demo catalogue (no key)."""

    name: str

    async def title(self, media_type: MediaType, tmdb_id: int) -> Title: ...

    async def browse(
        self, media_type: MediaType, *, genre: int | None, year: int | None, sort: Sort, page: int
    ) -> TitlePage: ...

    async def trending(
        self, media_type: MediaType | Literal["all"], window: Window, page: int
    ) -> TitlePage: ...

    async def search(self, query: str, page: int) -> TitlePage: ...

    async def genres(self, media_type: MediaType) -> list[Genre]: ...

    async def close(self) -> None: ...


_SORTS: dict[MediaType, dict[Sort, str]] = {
    "movie": {
        "popularity": "popularity.desc",
        "release_date": "primary_release_date.desc",
        "rating": "vote_average.desc",
    },
    "tv": {
        "popularity": "popularity.desc",
        "release_date": "first_air_date.desc",
        "rating": "vote_average.desc",
    },
}


def to_title(item: dict[str, Any], media_type: MediaType, genre_names: dict[int, str]) -> Title:
    """A TMDb movie or TV object (list item or details) as a `Title`."""
    if "genres" in item:  # details carry names
        genres = [g["name"] for g in item["genres"]]
    else:
        genres = [genre_names[g] for g in item.get("genre_ids", []) if g in genre_names]
    runtime = item.get("runtime")
    if media_type == "tv":
        lengths = item.get("episode_run_time") or []
        runtime = lengths[0] if lengths else None
    return Title(
        id=f"{media_type}-{item['id']}",
        tmdb_id=int(item["id"]),
        type=media_type,
        title=item.get("title") or item.get("name") or "",
        overview=item.get("overview") or "",
        poster_path=item.get("poster_path"),
        backdrop_path=item.get("backdrop_path"),
        release_date=(item.get("release_date") or item.get("first_air_date")) or None,
        genres=genres,
        vote_average=float(item.get("vote_average") or 0.0),
        runtime=int(runtime) if runtime else None,
    )


class TmdbClient:
    name = "tmdb"

    def __init__(
        self, base_url: str, policy: Policy, *, api_key: str, upstream: Upstream | None = None
    ) -> None:
        # A v4 read token is a JWT (three dot-separated parts); a v3 key is 32 hex characters.
        bearer = api_key.count(".") == 2
        self.http = upstream or Upstream(
            "tmdb",
            base_url,
            policy,
            headers={"Authorization": f"Bearer {api_key}"} if bearer else {},
            params={} if bearer else {"api_key": api_key},
        )
        self._genres: dict[MediaType, tuple[float, list[Genre]]] = {}

    async def close(self) -> None:
        await self.http.close()

    async def genres(self, media_type: MediaType) -> list[Genre]:
        known = self._genres.get(media_type)
        if known is not None and time.monotonic() - known[0] < GENRE_TTL_S:
            return known[1]
        data = await self.http.get_json(f"/3/genre/{media_type}/list", {"language": "en-US"})
        found = [Genre(id=g["id"], name=g["name"], type=media_type) for g in data["genres"]]
        self._genres[media_type] = (time.monotonic(), found)
        return found

    async def _names(self, media_type: MediaType) -> dict[int, str]:
        return {g.id: g.name for g in await self.genres(media_type)}

    async def _page(self, data: dict[str, Any], media_type: MediaType | None) -> TitlePage:
        names: dict[MediaType, dict[int, str]] = {}
        results = []
        for item in data.get("results", []):
            kind = media_type or item.get("media_type")
            if kind not in ("movie", "tv"):
                continue  # search/multi and trending/all also list people
            if kind not in names:
                names[kind] = await self._names(kind)
            results.append(to_title(item, kind, names[kind]))
        return TitlePage(
            results=results,
            page=int(data.get("page", 1)),
            total_pages=min(int(data.get("total_pages", 1)), MAX_PAGE),
            total_results=int(data.get("total_results", len(results))),
        )

    async def title(self, media_type: MediaType, tmdb_id: int) -> Title:
        data = await self.http.get_json(f"/3/{media_type}/{tmdb_id}", {"language": "en-US"})
        return to_title(data, media_type, {})

    async def browse(
        self, media_type: MediaType, *, genre: int | None, year: int | None, sort: Sort, page: int
    ) -> TitlePage:
        if genre is None and year is None and sort == "popularity":
            data = await self.http.get_json(f"/3/{media_type}/popular", {"page": page})
            return await self._page(data, media_type)
        params: dict[str, Any] = {"page": page, "sort_by": _SORTS[media_type][sort]}
        if genre is not None:
            params["with_genres"] = genre
        if year is not None:
            params["primary_release_year" if media_type == "movie" else "first_air_date_year"] = (
                year
            )
        if sort == "rating":
            params["vote_count.gte"] = 200  # a 10/10 from three votes is no rating
        data = await self.http.get_json(f"/3/discover/{media_type}", params)
        return await self._page(data, media_type)

    async def trending(
        self, media_type: MediaType | Literal["all"], window: Window, page: int
    ) -> TitlePage:
        data = await self.http.get_json(f"/3/trending/{media_type}/{window}", {"page": page})
        return await self._page(data, None if media_type == "all" else media_type)

    async def search(self, query: str, page: int) -> TitlePage:
        data = await self.http.get_json(
            "/3/search/multi", {"query": query, "page": page, "include_adult": "false"}
        )
        return await self._page(data, None)
