"""List pages are encoded straight from storage rows, byte for byte what the models write."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

from handlers.videos.models import VideoList, VideoOut, encode_list
from server.http.pagination import PageQuery, Pagination
from storage.videos import videos


def sample_video(**changes: Any) -> videos.Video:
    now = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    author = videos.Author(uuid.uuid4(), "ann", "Ann", "/static/a.svg", 12, True)
    fields: dict[str, Any] = {
        "id": uuid.uuid4(), "title": "T", "description": "D", "thumbnail_url": "",
        "video_url": "https://cdn.example.com/v.mp4", "duration": 61, "view_count": 7,
        "like_count": 3, "dislike_count": 1, "comment_count": 2, "tags": ["a", "b"],
        "category": "music", "visibility": "public", "processing_status": "ready",
        "quality_variants": {"720p": "https://cdn.example.com/720.mp4"},
        "watch_time_seconds": 125.5, "retention_curve": [1, 0.75, 0.3333333333333333],
        "trending_score": 2.5, "published_at": now, "created_at": now,
        "updated_at": now.replace(microsecond=0), "author": author,
    }  # fmt: skip
    fields.update(changes)
    return videos.Video(**fields)


def test_the_direct_encoding_is_the_response_models() -> None:
    found = [sample_video(), sample_video(view_count=0, published_at=None, retention_curve=[])]
    pagination = Pagination.of(PageQuery(page=2, limit=2), 9)
    expected = VideoList(videos=[VideoOut.of(v) for v in found], pagination=pagination)
    encoded = encode_list(found, pagination)
    assert orjson.loads(encoded) == orjson.loads(expected.model_dump_json())
    assert encoded == expected.model_dump_json().encode()
