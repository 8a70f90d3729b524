"""Request and response models of the catalogue's HTTP edge (OnStream's "Movies & TV Shows")."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from handlers.catalogue.titles import Genre, MediaType, StreamSource, Title
from handlers.catalogue.tmdb import MAX_PAGE

Sort = Literal["popularity", "release_date", "rating"]

# Headers of every catalogue answer (OpenAPI).
CACHE_HEADERS = {
    "X-Cache": "HIT (fresh from the cache), MISS (fetched now) or STALE (the provider is"
    " unavailable or refreshing it: an expired entry is served instead of an error)",
    "Warning": '`110 - "Response is Stale"` on STALE answers only',
}


class BrowseQuery(BaseModel):
    type: MediaType = Field(default="movie", description="movie or tv")
    genre: int | None = Field(default=None, ge=1, description="A genre id (GET /api/genres)")
    year: int | None = Field(default=None, ge=1870, le=2100)
    sort: Sort = "popularity"
    page: int = Field(default=1, ge=1, le=MAX_PAGE)


class SearchQuery(BaseModel):
    q: str | None = Field(
        default=None, min_length=1, max_length=200, description="Title words (movies and shows)"
    )
    type: MediaType | None = Field(default=None, description="Only movies or only shows")
    genre: int | None = Field(default=None, ge=1, description="A genre id (GET /api/genres)")
    year: int | None = Field(default=None, ge=1870, le=2100)
    page: int = Field(default=1, ge=1, le=MAX_PAGE)

    @model_validator(mode="after")
    def _blank_is_absent(self) -> SearchQuery:
        if self.q is not None and not self.q.strip():
            self.q = None  # blank words search nothing: the filters (or none) browse
        return self


class TrendingQuery(BaseModel):
    window: Literal["day", "week"] = Field(default="day", description="TMDb's time window")
    type: MediaType | Literal["all"] = "all"
    page: int = Field(default=1, ge=1, le=MAX_PAGE)


class GenresQuery(BaseModel):
    type: MediaType | None = Field(default=None, description="Omit for both lists")


class StreamQuery(BaseModel):
    season: int = Field(default=1, ge=1, le=1000, description="TV only")
    episode: int = Field(default=1, ge=1, le=10000, description="TV only")


class CataloguePagination(BaseModel):
    current_page: int
    total_pages: int
    total_items: int
    has_next: bool
    has_prev: bool


class TitleList(BaseModel):
    success: bool
    results: list[Title]
    pagination: CataloguePagination


class TrendingList(TitleList):
    window: Literal["day", "week"]


class CachedTitle(Title):
    cached_at: datetime
    expires_at: datetime


class MovieAnswer(BaseModel):
    success: bool
    movie: CachedTitle


class StreamAnswer(BaseModel):
    """OnStream's "Stream Source Model"."""

    success: bool
    tmdb_id: int
    type: MediaType
    provider: str
    sources: list[StreamSource]
    cached_at: datetime
    expires_at: datetime


class GenreList(BaseModel):
    success: bool
    genres: list[Genre]
