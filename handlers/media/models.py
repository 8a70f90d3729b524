"""CLUTCH's "Upload Endpoints" and "Video Processing Webhook" as request/response models.

The file rules are CLUTCH's "Input Validation Rules" (`allowed_video_types`, `max_video_size`,
`allowed_image_types`, `max_image_size`), checked here so that an invalid request is a 400
before the uploads budget is spent.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from server.http.models import RequestModel, Url, text_schema, trim_not_blank

MAX_VIDEO_BYTES = 2 * 1024 * 1024 * 1024  # 2 GiB
MAX_IMAGE_BYTES = 10 * 1024 * 1024  # 10 MiB
MAX_DURATION_SECONDS = 24 * 3600  # as a video's `duration`
# S3 allows 10,000 parts per multipart upload.
MAX_PARTS = 10_000

VideoContentType = Literal["video/mp4", "video/webm", "video/quicktime"]
ImageContentType = Literal["image/jpeg", "image/png", "image/webp"]
Rung = Literal["480p", "720p", "1080p", "1440p", "2160p"]
Filename = Annotated[
    str,
    StringConstraints(max_length=255),
    AfterValidator(trim_not_blank),
    text_schema(255, not_blank=True),
]


class VideoUploadRequest(RequestModel):
    filename: Filename
    file_size: int = Field(gt=0, le=MAX_VIDEO_BYTES, description="Bytes (at most 2 GiB)")
    content_type: VideoContentType
    duration: float | None = Field(
        default=None, ge=0, le=MAX_DURATION_SECONDS, description="Seconds, as the client sees"
    )


class ThumbnailUploadRequest(RequestModel):
    video_id: uuid.UUID = Field(description="A video you own")
    filename: Filename
    file_size: int = Field(gt=0, le=MAX_IMAGE_BYTES, description="Bytes (at most 10 MiB)")
    content_type: ImageContentType


class UploadTicket(BaseModel):
    """Where to PUT the file: exactly these headers, before `expires_at`."""

    upload_url: str = Field(description="Presigned S3 URL (SigV4): PUT the file's bytes here")
    video_id: uuid.UUID
    expires_at: datetime
    upload_id: uuid.UUID = Field(description="For POST /api/upload/{upload_id}/complete")
    method: Literal["PUT"] = "PUT"
    headers: dict[str, str] = Field(
        description="Headers the PUT must carry (the URL signs Content-Type and the length)"
    )


class PartUrl(BaseModel):
    part_number: int
    upload_url: str
    size: int = Field(description="Bytes this part must hold")


class MultipartTicket(BaseModel):
    """Upload each part to its URL (any order, retried as needed), then complete with the
    ETag each PUT answered."""

    video_id: uuid.UUID
    upload_id: uuid.UUID
    expires_at: datetime
    part_size: int
    parts: list[PartUrl]


PartNumber = Annotated[int, Field(ge=1, le=MAX_PARTS)]


class PartUrlsRequest(RequestModel):
    part_numbers: list[PartNumber] = Field(min_length=1, max_length=1000)


class PartUrls(BaseModel):
    expires_at: datetime
    parts: list[PartUrl]


class CompletedPart(RequestModel):
    part_number: int = Field(ge=1, le=MAX_PARTS)
    etag: str = Field(min_length=1, max_length=200)


class CompleteRequest(RequestModel):
    """Empty for a single PUT. For a multipart upload the server asks the store which parts
    it holds; `parts`, when sent, must match them (number and ETag of every part)."""

    parts: list[CompletedPart] | None = Field(default=None, max_length=MAX_PARTS)


class UploadState(BaseModel):
    upload_id: uuid.UUID
    video_id: uuid.UUID
    kind: Literal["video", "thumbnail"]
    processing_status: Literal["uploaded", "processing", "ready", "error"]
    thumbnail_url: str


class WebhookPayload(RequestModel):
    """CLUTCH's payload from an external video processing service."""

    video_id: uuid.UUID
    status: Literal["success", "error"]
    quality_variants: dict[Rung, Url] = Field(default_factory=dict)
    duration: float | None = Field(default=None, ge=0, le=MAX_DURATION_SECONDS)
    thumbnail_url: Url | None = None
    error_message: str | None = Field(default=None, max_length=1000)
    # Not in CLUTCH's payload: the HLS master playlist, when the processor wrote one (else the
    # video plays from its highest variant).
    video_url: Url | None = None


class WebhookAnswer(BaseModel):
    success: bool = True
    # False when the delivery changed nothing (a repeat, or a state already applied).
    applied: bool
