"""CLUTCH's "Upload Endpoints" and "Video Processing Webhook" over HTTP.

`POST /api/upload/video/request` spends the uploads budget (5 per hour per user) only on a
valid request from a creator or admin, as `POST /api/videos` does: each one makes a video.
"""

from __future__ import annotations

from aiohttp import web

from core.errors import ValidationFailed
from core.tokens import AccessClaims
from core.webhooks import SIGNATURE_HEADER
from handlers.media.models import (
    CompleteRequest,
    MultipartTicket,
    PartUrl,
    PartUrls,
    PartUrlsRequest,
    ThumbnailUploadRequest,
    UploadState,
    UploadTicket,
    VideoUploadRequest,
    WebhookAnswer,
    WebhookPayload,
)
from handlers.media.processing import ProcessingResult
from handlers.media.service import MediaService, PartTicket, Ticket
from handlers.videos.service import PUBLISHER_ROLES
from objectstore.store import UploadedPart
from server.http.routing import Auth, Router, path_uuid

# This app's media service, set by the composition root.
SERVICE = web.AppKey("media", MediaService)

routes = Router("uploads")


def _service(request: web.Request) -> MediaService:
    return request.app[SERVICE]


def _ticket(ticket: Ticket) -> UploadTicket:
    upload = ticket.upload
    return UploadTicket(
        upload_url=ticket.url,
        video_id=upload.video_id,
        upload_id=upload.id,
        expires_at=upload.expires_at,
        headers={"Content-Type": upload.content_type},
    )


def _parts(parts: list[PartTicket]) -> list[PartUrl]:
    return [PartUrl(part_number=p.part_number, upload_url=p.url, size=p.size) for p in parts]


@routes.post(
    "/api/upload/video/request",
    body=VideoUploadRequest,
    response=UploadTicket,
    auth=Auth.required,
    roles=PUBLISHER_ROLES,
    limit="uploads",
    limit_valid_only=True,  # CLUTCH's 5 uploads per hour count videos made, not attempts
    errors=(400, 401, 403, 429, 503),
    summary="Request a presigned URL to upload a video straight to storage",
    description=(
        "Creates the video in `uploaded` state (not listed) and answers a presigned S3 PUT"
        " URL bound to the object, its Content-Type and its size. PUT the bytes there with"
        " the headers given, then call POST /api/upload/{upload_id}/complete."
    ),
)
async def request_video_upload(
    request: web.Request, *, user: AccessClaims, body: VideoUploadRequest
) -> UploadTicket:
    ticket = await _service(request).request_video_upload(
        author=user,
        filename=body.filename,
        file_size=body.file_size,
        content_type=body.content_type,
    )
    return _ticket(ticket)


@routes.post(
    "/api/upload/video/multipart/request",
    body=VideoUploadRequest,
    response=MultipartTicket,
    auth=Auth.required,
    roles=PUBLISHER_ROLES,
    limit="uploads",
    limit_valid_only=True,
    errors=(400, 401, 403, 429, 503),
    summary="Request a multipart upload of a large video: one presigned URL per part",
    description=(
        "For large files: PUT each part to its URL (in any order; a failed part is sent"
        " again, with a fresh URL from .../parts if it expired), then complete with the"
        " ETag each part's PUT answered. The upload may take MULTIPART_UPLOAD_WINDOW_SECONDS."
    ),
)
async def request_multipart_upload(
    request: web.Request, *, user: AccessClaims, body: VideoUploadRequest
) -> MultipartTicket:
    service = _service(request)
    upload, parts = await service.request_multipart_upload(
        author=user,
        filename=body.filename,
        file_size=body.file_size,
        content_type=body.content_type,
    )
    return MultipartTicket(
        video_id=upload.video_id,
        upload_id=upload.id,
        expires_at=upload.expires_at,
        part_size=service.policy.part_bytes,
        parts=_parts(parts),
    )


@routes.post(
    "/api/upload/{upload_id}/parts",
    body=PartUrlsRequest,
    response=PartUrls,
    auth=Auth.required,
    errors=(400, 401, 404, 409, 503),
    summary="Fresh presigned URLs for some parts of your multipart upload (to resume it)",
)
async def part_urls(request: web.Request, *, user: AccessClaims, body: PartUrlsRequest) -> PartUrls:
    upload, parts = await _service(request).part_urls(
        path_uuid(request, "upload_id"), user=user, part_numbers=body.part_numbers
    )
    return PartUrls(expires_at=upload.expires_at, parts=_parts(parts))


@routes.post(
    "/api/upload/thumbnail/request",
    body=ThumbnailUploadRequest,
    response=UploadTicket,
    auth=Auth.required,
    errors=(400, 401, 403, 404, 503),
    summary="Request a presigned URL to upload a thumbnail for a video you own",
)
async def request_thumbnail_upload(
    request: web.Request, *, user: AccessClaims, body: ThumbnailUploadRequest
) -> UploadTicket:
    ticket = await _service(request).request_thumbnail_upload(
        user=user,
        video_id=body.video_id,
        filename=body.filename,
        file_size=body.file_size,
        content_type=body.content_type,
    )
    return _ticket(ticket)


@routes.post(
    "/api/upload/{upload_id}/complete",
    body=CompleteRequest,
    response=UploadState,
    auth=Auth.required,
    errors=(400, 401, 404, 409, 503),
    summary="Tell the server an upload finished: it checks the object, then processes it",
    description=(
        "The server asks the store for the object (it must exist with the size and type"
        " requested) before it moves on: a video is queued for transcoding, a thumbnail for"
        " a check that it decodes as the image declared, after which it becomes the video's"
        " thumbnail_url. Calling it again changes nothing. 409 when the object is not"
        " there yet, is not the one requested (it is deleted), or the parts do not match."
    ),
)
async def complete_upload(
    request: web.Request, *, user: AccessClaims, body: CompleteRequest
) -> UploadState:
    parts = [UploadedPart(p.part_number, p.etag) for p in body.parts] if body.parts else None
    upload, state = await _service(request).complete(
        path_uuid(request, "upload_id"), user=user, parts=parts
    )
    return UploadState(
        upload_id=upload.id,
        video_id=upload.video_id,
        kind=upload.kind,
        processing_status=state.processing_status,
        thumbnail_url=state.thumbnail_url,
    )


@routes.post(
    "/api/webhooks/video-processed",
    body=WebhookPayload,
    response=WebhookAnswer,
    errors=(400, 401, 404),
    summary="Processing result from an external processor (HMAC-signed)",
    description=(
        f"Send `{SIGNATURE_HEADER}: t=<unix seconds>,v1=<hex>` where hex is"
        " HMAC-SHA256(VIDEO_PROCESSING_WEBHOOK_SECRET, `<t>.` + raw body). Deliveries"
        " older than WEBHOOK_TOLERANCE_SECONDS, or badly signed, get 401 and change nothing"
        " (a body that is not the payload is a 400 first: the schema is public anyway);"
        " a repeated delivery is answered with `applied: false` and changes nothing."
    ),
)
async def video_processed(request: web.Request, *, body: WebhookPayload) -> WebhookAnswer:
    service = _service(request).processing
    # The signature covers the raw bytes the router parsed (aiohttp keeps them).
    digest = service.verify_webhook(await request.read(), request.headers.get(SIGNATURE_HEADER))
    applied = await service.apply_result(body.video_id, _result(body), delivery=digest)
    return WebhookAnswer(applied=applied)


def _result(payload: WebhookPayload) -> ProcessingResult:
    if payload.status == "error":
        return ProcessingResult(ok=False, error=payload.error_message or "processing failed")
    variants: dict[str, str] = {str(k): v for k, v in payload.quality_variants.items()}
    highest = [variants[r] for r in ("2160p", "1440p", "1080p", "720p", "480p") if r in variants]
    video_url = payload.video_url or (highest[0] if highest else "")
    if not video_url:
        raise ValidationFailed(
            "A successful result needs quality_variants or video_url",
            field_errors={"quality_variants": ["At least one variant"]},
        )
    return ProcessingResult(
        ok=True,
        video_url=video_url,
        quality_variants=variants,
        duration=round(payload.duration or 0),
        thumbnail_url=payload.thumbnail_url,
    )
