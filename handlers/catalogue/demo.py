"""The demo catalogue, served when `TMDB_API_KEY` is unset: a few hundred made-up movies and
shows with TMDb's genres, SVG posters as data URLs and public test streams, so a laptop with
no key and no network runs every endpoint. It is a `MetadataSource` and a `StreamProvider`
like TMDb and Consumet, so the cache, the service and the routes are the same code path."""

from __future__ import annotations

import base64
import random
from typing import Literal

from handlers.catalogue.titles import Genre, MediaType, StreamSource, Title, TitlePage
from handlers.catalogue.tmdb import Sort, Window
from handlers.catalogue.upstream import UpstreamNotFound

MOVIE_GENRES = {
    28: "Action", 12: "Adventure", 16: "Animation", 35: "Comedy", 80: "Crime",
    99: "Documentary", 18: "Drama", 14: "Fantasy", 27: "Horror", 9648: "Mystery",
    10749: "Romance", 878: "Science Fiction", 53: "Thriller",
}  # fmt: skip
TV_GENRES = {
    10759: "Action & Adventure", 16: "Animation", 35: "Comedy", 80: "Crime",
    99: "Documentary", 18: "Drama", 9648: "Mystery", 10765: "Sci-Fi & Fantasy",
}  # fmt: skip
_WORDS = (
    "Silent Harbor Midnight Glass Iron Summer Lost Crimson Paper Northern Electric Hollow "
    "Golden Distant Broken Winter Velvet Last Wild Quiet River City Signal Garden Engine "
    "Empire Orbit Echo Tide Lantern Frontier Stranger Machine Kingdom Shadow Light Road"
).split()
# Public test streams (HLS and MP4), used by players' own demos.
DEMO_STREAMS = [
    ("https://test-streams.mux.dev/x36xhzz/x36xhzz.m3u8", "auto", "hls"),
    ("https://storage.googleapis.com/gtv-videos-bucket/sample/BigBuckBunny.mp4", "720p", "mp4"),
]
PAGE = 20


def _poster(title: str, hue: int) -> str:
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="300">'
        f'<rect width="200" height="300" fill="hsl({hue},45%,30%)"/>'
        f'<text x="100" y="150" fill="#fff" font-size="16" text-anchor="middle">{title}</text>'
        "</svg>"
    )
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _make(media_type: MediaType, n: int, seed: int) -> list[Title]:
    rng = random.Random(seed)
    genres = MOVIE_GENRES if media_type == "movie" else TV_GENRES
    made = []
    for i in range(1, n + 1):
        name = " ".join(rng.sample(_WORDS, 2 if i % 3 else 3))
        year = rng.randint(1970, 2026)
        picked = rng.sample(sorted(genres), rng.randint(1, 3))
        made.append(
            Title(
                id=f"{media_type}-{i}",
                tmdb_id=i,
                type=media_type,
                title=name,
                overview=f"A demo {'film' if media_type == 'movie' else 'series'}: {name}.",
                poster_path=_poster(name, rng.randint(0, 359)),
                backdrop_path=None,
                release_date=f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                genres=[genres[g] for g in picked],
                vote_average=round(rng.uniform(4.0, 9.2), 1),
                runtime=rng.randint(80, 170) if media_type == "movie" else rng.randint(22, 60),
            )
        )
    return made


class DemoCatalogue:
    """Made-up titles, deterministic (the same ids and names on every node and run)."""

    name = "demo"

    def __init__(self, movies: int = 240, shows: int = 120) -> None:
        self.titles: dict[MediaType, list[Title]] = {
            "movie": _make("movie", movies, 1),
            "tv": _make("tv", shows, 2),
        }
        # Popularity: a fixed shuffled order.
        self.popularity = {
            t.id: random.Random(t.id).random() for ts in self.titles.values() for t in ts
        }

    async def close(self) -> None:
        pass

    @staticmethod
    def _page(items: list[Title], page: int) -> TitlePage:
        total = len(items)
        return TitlePage(
            results=[
                t.model_copy(update={"runtime": None})
                for t in items[(page - 1) * PAGE : page * PAGE]
            ],
            page=page,
            total_pages=max(1, -(-total // PAGE)),
            total_results=total,
        )

    async def title(self, media_type: MediaType, tmdb_id: int) -> Title:
        items = self.titles[media_type]
        if not 1 <= tmdb_id <= len(items):
            raise UpstreamNotFound(f"/{media_type}/{tmdb_id}")
        return items[tmdb_id - 1]

    async def browse(
        self, media_type: MediaType, *, genre: int | None, year: int | None, sort: Sort, page: int
    ) -> TitlePage:
        names = MOVIE_GENRES if media_type == "movie" else TV_GENRES
        items = self.titles[media_type]
        if genre is not None:
            items = [t for t in items if names.get(genre) in t.genres]
        if year is not None:
            items = [t for t in items if (t.release_date or "").startswith(str(year))]
        if sort == "release_date":
            items = sorted(items, key=lambda t: t.release_date or "", reverse=True)
        elif sort == "rating":
            items = sorted(items, key=lambda t: t.vote_average, reverse=True)
        else:
            items = sorted(items, key=lambda t: self.popularity[t.id], reverse=True)
        return self._page(items, page)

    async def trending(
        self, media_type: MediaType | Literal["all"], window: Window, page: int
    ) -> TitlePage:
        kinds: list[MediaType] = ["movie", "tv"] if media_type == "all" else [media_type]
        items = [t for k in kinds for t in self.titles[k]]
        salt = 1 if window == "day" else 7
        items.sort(key=lambda t: random.Random(f"{t.id}:{salt}").random())
        return self._page(items, page)

    async def search(self, query: str, page: int) -> TitlePage:
        words = query.lower()
        items = [t for ts in self.titles.values() for t in ts if words in t.title.lower()]
        return self._page(items, page)

    async def genres(self, media_type: MediaType) -> list[Genre]:
        names = MOVIE_GENRES if media_type == "movie" else TV_GENRES
        return [Genre(id=i, name=n, type=media_type) for i, n in names.items()]

    async def sources(
        self, media_type: MediaType, tmdb_id: int, season: int, episode: int
    ) -> list[StreamSource]:
        await self.title(media_type, tmdb_id)
        return [StreamSource(url=u, quality=q, server="demo", type=t) for u, q, t in DEMO_STREAMS]
