"""Videos as CLUTCH's "Video Model Structure" and "Video Endpoints" write them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from typing_extensions import TypedDict

from server.http.models import RequestModel, Url, text_schema, trim, trim_not_blank
from server.http.pagination import PageQuery, Pagination
from storage.videos.videos import Video

MAX_TAGS = 20
MAX_TAG_LENGTH = 30
MAX_DURATION_SECONDS = 24 * 3600

Visibility = Literal["public", "unlisted", "private"]
Title = Annotated[
    str,
    StringConstraints(max_length=100),
    AfterValidator(trim_not_blank),
    text_schema(100, not_blank=True),
]
Description = Annotated[str, StringConstraints(max_length=5000)]
Category = Annotated[
    str,
    StringConstraints(max_length=50),
    AfterValidator(lambda value: trim(value).lower()),
    text_schema(50, not_blank=False),
]
Tag = Annotated[
    str,
    StringConstraints(max_length=MAX_TAG_LENGTH),
    AfterValidator(lambda value: trim_not_blank(value).lower()),
    text_schema(MAX_TAG_LENGTH, not_blank=True),
]


def _unique(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tags))


Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS), AfterValidator(_unique)]


class VideoCreate(RequestModel):
    """What an author sets. With a `video_url` the video is ready and published at once."""

    title: Title
    description: Description = ""
    video_url: Url | None = None
    thumbnail_url: Url | None = None
    duration: int = Field(default=0, ge=0, le=MAX_DURATION_SECONDS, description="Seconds")
    tags: Tags = Field(default_factory=list)
    category: Category = ""
    visibility: Visibility = "public"

    def fields(self) -> dict[str, object]:
        return _columns(self.model_dump())


def _columns(values: dict[str, object]) -> dict[str, object]:
    """Field values as columns: a null URL clears it (""); other nulls mean "unchanged"."""
    columns = {}
    for name, value in values.items():
        if name in ("video_url", "thumbnail_url"):
            columns[name] = value or ""
        elif value is not None:
            columns[name] = value
    return columns


class VideoPatch(RequestModel):
    """A partial update: only the fields sent change."""

    title: Title | None = None
    description: Description | None = None
    video_url: Url | None = None
    thumbnail_url: Url | None = None
    duration: int | None = Field(default=None, ge=0, le=MAX_DURATION_SECONDS)
    tags: Tags | None = None
    category: Category | None = None
    visibility: Visibility | None = None

    def changes(self) -> dict[str, object]:
        return _columns(self.model_dump(exclude_unset=True))


class VideoListQuery(PageQuery):
    category: Category | None = None
    tags: str | None = Field(default=None, max_length=1000, description="Comma-separated; any")
    sort: Literal["latest", "popular", "trending"] | None = Field(
        default=None, description="latest (default), popular or trending; with q, relevance"
    )
    q: str | None = Field(
        default=None, min_length=1, max_length=200, description="Searches title and description"
    )

    def tag_list(self) -> list[str]:
        tags = [t.strip().lower() for t in (self.tags or "").split(",") if t.strip()]
        return _unique(tags)[:MAX_TAGS]


class VideoAuthor(BaseModel):
    id: uuid.UUID
    username: str
    display_name: str
    avatar_url: str
    follower_count: int
    verified: bool


class VideoMetrics(BaseModel):
    watch_time_minutes: float
    engagement_rate: float = Field(description="(likes + dislikes + comments) / views")
    retention_curve: list[float]


# CLUTCH's renditions, highest first. The media pipeline fills them; until a rendition exists
# its key is absent (never an empty string), and no other key ever appears.
QUALITY_NAMES = ("2160p", "1440p", "1080p", "720p", "480p")
QualityVariants = TypedDict(
    "QualityVariants",
    {"2160p": str, "1440p": str, "1080p": str, "720p": str, "480p": str},
    total=False,
)
# `additionalProperties: false` in the OpenAPI: these five keys are the only ones.
QualityVariants.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]


def quality_variants(stored: dict[str, str]) -> dict[str, str]:
    """The renditions that exist, under CLUTCH's names only."""
    return {name: url for name in QUALITY_NAMES if (url := stored.get(name))}


class VideoOut(BaseModel):
    id: uuid.UUID
    title: str
    description: str
    thumbnail_url: str
    video_url: str
    duration: int
    view_count: int
    like_count: int
    dislike_count: int
    comment_count: int
    author: VideoAuthor
    tags: list[str]
    category: str
    visibility: Visibility
    published_at: datetime | None
    updated_at: datetime
    processing_status: Literal["uploaded", "processing", "ready", "error"]
    quality_variants: QualityVariants = Field(
        description=(
            "URL per rendition. Only the keys 2160p, 1440p, 1080p, 720p and 480p may appear,"
            " each once that rendition exists: `{}` until the media pipeline has produced one."
        )
    )
    metrics: VideoMetrics

    @classmethod
    def of(cls, video: Video, *, buffered_views: int = 0) -> VideoOut:
        return cls.model_validate(video_document(video, buffered_views=buffered_views))


def video_document(video: Video, *, buffered_views: int = 0) -> dict[str, Any]:
    """A video as `VideoOut` writes it, in JSON-ready values that orjson encodes directly.

    Lists are encoded from these documents without building the models: validating and then
    dumping 20 `VideoOut` cost about 220 us a page, this about 50 us. `VideoOut.of` validates
    the same document, so the two cannot drift apart, and tests compare both encodings.
    """
    views = video.view_count + buffered_views
    engaged = video.like_count + video.dislike_count + video.comment_count
    author = video.author
    return {
        "id": str(video.id),
        "title": video.title,
        "description": video.description,
        "thumbnail_url": video.thumbnail_url,
        "video_url": video.video_url,
        "duration": video.duration,
        "view_count": views,
        "like_count": video.like_count,
        "dislike_count": video.dislike_count,
        "comment_count": video.comment_count,
        "author": {
            "id": str(author.id),
            "username": author.username,
            "display_name": author.display_name,
            "avatar_url": author.avatar_url,
            "follower_count": author.follower_count,
            "verified": author.verified,
        },
        "tags": list(video.tags),
        "category": video.category,
        "visibility": video.visibility,
        "published_at": video.published_at,
        "updated_at": video.updated_at,
        "processing_status": video.processing_status,
        "quality_variants": quality_variants(video.quality_variants),
        "metrics": {
            "watch_time_minutes": round(video.watch_time_seconds / 60, 2),
            "engagement_rate": round(engaged / views, 4) if views else 0.0,
            # floats, as the model writes them (jsonb may hold 1 where the model says 1.0)
            "retention_curve": [float(x) for x in video.retention_curve],
        },
    }


class VideoList(BaseModel):
    videos: list[VideoOut]
    pagination: Pagination


def encode_list(found: list[Video], pagination: Pagination) -> bytes:
    """A `VideoList` body, encoded straight from storage's videos (see `video_document`)."""
    return orjson.dumps(
        {"videos": [video_document(v) for v in found], "pagination": pagination.model_dump()},
        option=orjson.OPT_UTC_Z,  # "...Z" for UTC, as pydantic writes datetimes
    )


class ViewRequest(RequestModel):
    watch_time_seconds: float | None = Field(default=None, ge=0, le=MAX_DURATION_SECONDS)
    quality: str | None = Field(default=None, max_length=20)


class ViewResponse(BaseModel):
    success: bool = True
    new_view_count: int
