"""The catalogue's own shapes, whatever the source (TMDb, the demo catalogue): OnStream's
"Movie Cache Model" and "Stream Source Model", and how a client names a title.

**Naming rule.** TMDb numbers movies and TV shows separately, so one number may name both. A
title's `id` is `movie-{tmdb_id}` or `tv-{tmdb_id}`; a bare number is a movie (`550` is
`movie-550`). Every endpoint that takes a title (`/api/movies/{id}`, favorites, history)
takes that id, and every title carries it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.errors import ValidationFailed

MediaType = Literal["movie", "tv"]
# Up to nine digits: every id fits Postgres' integer (TMDb's are in the millions).
ID_PATTERN = r"^(?:(?:movie|tv)-)?[1-9][0-9]{0,8}$"
_ID = re.compile(ID_PATTERN.removeprefix("^").removesuffix("$"))
# The OpenAPI schema of a path parameter that names a title.
ID_SCHEMA = {"type": "string", "pattern": ID_PATTERN, "examples": ["movie-550", "tv-1399"]}
ID_RULE = (
    "A title id is `movie-{tmdb_id}` or `tv-{tmdb_id}` (a movie and a TV show may share a TMDb"
    " number); a bare number names a movie."
)


@dataclass(frozen=True, slots=True)
class TitleRef:
    media_type: MediaType
    tmdb_id: int

    @property
    def id(self) -> str:
        return f"{self.media_type}-{self.tmdb_id}"

    @classmethod
    def parse(cls, raw: str, field: str = "id") -> TitleRef:
        if not _ID.fullmatch(raw):  # not `match`: Python's `$` admits a trailing newline
            raise ValidationFailed(f"{field} is not a title id", field_errors={field: [ID_RULE]})
        kind, _, number = raw.rpartition("-")
        return cls("tv" if kind == "tv" else "movie", int(number))


class Title(BaseModel):
    """OnStream's "Movie Cache Model" (less the storage id), plus our `id` (naming rule)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description=ID_RULE, examples=["movie-550", "tv-1399"])
    tmdb_id: int
    type: MediaType
    title: str
    overview: str
    poster_path: str | None = Field(
        description="TMDb image path (prefix with an image base URL) or a data: URL in the demo"
    )
    backdrop_path: str | None
    release_date: str | None = Field(description="YYYY-MM-DD (first air date for TV)")
    genres: list[str]
    vote_average: float
    runtime: int | None = Field(description="Minutes (episode length for TV); null in lists")

    @property
    def ref(self) -> TitleRef:
        return TitleRef(self.type, self.tmdb_id)


class TitlePage(BaseModel):
    """One page of a list as a source answers it (TMDb pages hold 20)."""

    results: list[Title]
    page: int
    total_pages: int
    total_results: int


class Genre(BaseModel):
    id: int
    name: str
    type: MediaType


class StreamSource(BaseModel):
    """One entry of OnStream's "Stream Source Model"."""

    url: str
    quality: str
    server: str
    type: str = Field(description="`hls` or `mp4`")


class StreamSet(BaseModel):
    tmdb_id: int
    type: MediaType
    provider: str
    sources: list[StreamSource]
