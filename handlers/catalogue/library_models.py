"""Request and response models of favorites and watch history (OnStream's "User Features")."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from handlers.catalogue.models import CataloguePagination
from handlers.catalogue.titles import ID_PATTERN, ID_RULE, Title

TITLE_ID = Field(pattern=ID_PATTERN, max_length=16, description=ID_RULE, examples=["tv-1399"])
# "Continue watching" leaves out titles watched this far.
FINISHED_SHARE = 0.95


class FavoriteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    movie_id: str = TITLE_ID


class ProgressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    movie_id: str = TITLE_ID
    progress: float = Field(
        ge=0,
        le=7 * 86400,
        description="Seconds watched from the start; past `runtime` counts as the end",
    )
    runtime: float = Field(gt=0, le=7 * 86400, description="Seconds of the whole title/episode")
    device_id: str | None = Field(
        default=None,
        max_length=64,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="Sent back in the watch_progress event, so a device can skip its own",
    )

    @model_validator(mode="after")
    def _within(self) -> ProgressIn:
        # Players report a position a little past the end (rounding, credits): it is the end.
        self.progress = min(self.progress, self.runtime)
        return self


class LibraryPageQuery(BaseModel):
    page: int = Field(default=1, ge=1, le=100_000)
    limit: int = Field(default=20, ge=1, le=50)


class HistoryQuery(LibraryPageQuery):
    unfinished: bool = Field(
        default=False, description=f"Only titles watched less than {FINISHED_SHARE:.0%}"
    )


class FavoriteOut(BaseModel):
    id: str = Field(description="The title id (what DELETE /api/favorites/{id} takes)")
    movie: Title
    added_at: datetime


class FavoriteAnswer(BaseModel):
    success: bool
    favorite: FavoriteOut
    created: bool = Field(description="false when it was already a favorite (nothing changed)")


class FavoriteList(BaseModel):
    success: bool
    favorites: list[FavoriteOut]
    pagination: CataloguePagination


class HistoryEntry(BaseModel):
    """One title of the history, with what a "continue watching" row shows."""

    id: str = Field(description="The title id (what DELETE /api/watch-history/{id} takes)")
    movie: Title
    progress: float = Field(description="Seconds watched")
    runtime: float = Field(description="Seconds in the title, as the player reported")
    progress_percent: float
    remaining_seconds: float
    finished: bool = Field(description=f"Watched to {FINISHED_SHARE:.0%} or more")
    watched_at: datetime


class HistoryAnswer(BaseModel):
    success: bool
    entry: HistoryEntry


class HistoryList(BaseModel):
    success: bool
    history: list[HistoryEntry]
    pagination: CataloguePagination


class Removed(BaseModel):
    success: bool
    message: str
