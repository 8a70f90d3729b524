"""The rules of uploads: who may upload what, when an upload counts as done, and what is
cleaned up. Processing results (our worker's or the webhook's) are applied by
`handlers/media/processing.py`, reachable as `MediaService.processing`.

Bytes never pass through the node: a request answers a presigned URL bound to the object
key, type and size; `complete` trusts nothing the client says and asks the store (HEAD,
ListParts) before it moves the upload on, enqueueing its job in the same transaction.
"""

from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import asyncpg

from core.errors import Conflict, Forbidden, NotFound, ServiceUnavailable
from core.tokens import AccessClaims
from handlers.media.events import MediaEvents
from handlers.media.processing import ProcessingService
from handlers.videos.service import PUBLISHER_ROLES, VideoService, caller_id
from objectstore.store import ObjectStore, StoreRefused, UploadedPart
from storage import jobs
from storage.media import uploads
from storage.media.uploads import NewUpload, Processing, Upload

log = logging.getLogger("streamhub.media")

TRANSCODE = "media.transcode"
THUMBNAIL = "media.thumbnail"
IMMUTABLE_CACHE = "public, max-age=31536000, immutable"
EXTENSIONS = {
    "video/mp4": ".mp4",
    "video/webm": ".webm",
    "video/quicktime": ".mov",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
}
# A store that lost an object's metadata (the embedded one after a restart) answers these.
UNKNOWN_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})


@dataclass(frozen=True, slots=True)
class MediaPolicy:
    url_expire_seconds: int = 900
    multipart_window_seconds: int = 86400
    part_bytes: int = 64 * 1024 * 1024
    cleanup_grace_seconds: int = 3600
    webhook_secret: str | None = None
    webhook_tolerance_seconds: int = 300


@dataclass(frozen=True, slots=True)
class Ticket:
    upload: Upload
    url: str


@dataclass(frozen=True, slots=True)
class PartTicket:
    part_number: int
    url: str
    size: int


def title_from(filename: str) -> str:
    """A first title for the video: the file's name without folder or extension."""
    stem = PurePosixPath(filename.replace("\\", "/")).stem.strip()
    return (stem or "Untitled")[:100]


def source_key(video_id: uuid.UUID, upload_id: uuid.UUID, content_type: str) -> str:
    return f"uploads/{video_id}/{upload_id}{EXTENSIONS[content_type]}"


def results_prefix(video_id: uuid.UUID) -> str:
    return f"public/videos/{video_id}/"


def _may_upload(author: AccessClaims) -> None:
    if author.role not in PUBLISHER_ROLES:
        raise Forbidden("Only creators and admins can upload videos")


class MediaService:
    """Uploads: requests, completion, clean-up. A request that does not fit the upload's
    current state (nothing uploaded yet, another object, parts that do not match) is a
    CONFLICT (409): the same body may succeed later or for another upload."""

    def __init__(
        self,
        *,
        db: asyncpg.Pool,
        store: ObjectStore | None,
        videos: VideoService,
        events: MediaEvents,
        policy: MediaPolicy,
    ) -> None:
        self.db = db
        self._store = store
        self.videos = videos
        self.policy = policy
        self.processing = ProcessingService(
            db=db,
            videos=videos,
            events=events,
            webhook_secret=policy.webhook_secret,
            webhook_tolerance_seconds=policy.webhook_tolerance_seconds,
        )

    @property
    def store(self) -> ObjectStore:
        if self._store is None:
            raise ServiceUnavailable("Object storage is not configured on this node")
        return self._store

    # --- requests -------------------------------------------------------------------------

    async def request_video_upload(
        self, *, author: AccessClaims, filename: str, file_size: int, content_type: str
    ) -> Ticket:
        """A video row in `uploaded` (not listed) and a presigned PUT for its source."""
        _may_upload(author)
        video_id, upload_id = uuid.uuid4(), uuid.uuid4()
        key = source_key(video_id, upload_id, content_type)
        url = await self._presign_put(key, content_type, file_size)
        new = NewUpload(
            id=upload_id,
            object_key=key,
            filename=filename,
            content_type=content_type,
            file_size=file_size,
            expires_in_seconds=self.policy.url_expire_seconds,
        )
        return Ticket(await self._create_video_upload(author, video_id, new), url)

    async def request_multipart_upload(
        self, *, author: AccessClaims, filename: str, file_size: int, content_type: str
    ) -> tuple[Upload, list[PartTicket]]:
        """As `request_video_upload`, as S3 multipart: one presigned URL per part."""
        _may_upload(author)
        video_id, upload_id = uuid.uuid4(), uuid.uuid4()
        key = source_key(video_id, upload_id, content_type)
        multipart_id = await self.store.create_multipart(key, content_type=content_type)
        new = NewUpload(
            id=upload_id,
            object_key=key,
            filename=filename,
            content_type=content_type,
            file_size=file_size,
            expires_in_seconds=self.policy.multipart_window_seconds,
            multipart_upload_id=multipart_id,
        )
        upload = await self._create_video_upload(author, video_id, new)
        count = math.ceil(file_size / self.policy.part_bytes)
        return upload, await self._part_tickets(upload, range(1, count + 1))

    async def part_urls(
        self, upload_id: uuid.UUID, *, user: AccessClaims, part_numbers: list[int]
    ) -> tuple[Upload, list[PartTicket]]:
        """Fresh URLs for some parts of a pending multipart upload (to resume it)."""
        upload = await self._own_upload(upload_id, user)
        if upload.multipart_upload_id is None or upload.state != "pending":
            raise Conflict("Not a pending multipart upload")
        count = math.ceil(upload.file_size / self.policy.part_bytes)
        wrong = [n for n in part_numbers if not 1 <= n <= count]
        if wrong:
            raise Conflict(
                f"This upload has parts 1 to {count}",
                field_errors={"part_numbers": [f"No part {n}" for n in wrong[:20]]},
            )
        return upload, await self._part_tickets(upload, sorted(set(part_numbers)))

    async def _presign_put(self, key: str, content_type: str, file_size: int) -> str:
        return await self.store.presign_put(
            key,
            content_type=content_type,
            content_length=file_size,
            expires_in=self.policy.url_expire_seconds,
        )

    async def _create_video_upload(
        self, author: AccessClaims, video_id: uuid.UUID, new: NewUpload
    ) -> Upload:
        return await uploads.create_video_upload(
            self.db,
            video_id=video_id,
            owner_id=uuid.UUID(author.user_id),
            title=title_from(new.filename),
            new=new,
        )

    async def _part_tickets(self, upload: Upload, numbers: range | list[int]) -> list[PartTicket]:
        assert upload.multipart_upload_id is not None
        size, total = self.policy.part_bytes, upload.file_size
        found = []
        for n in numbers:
            part_size = min(size, total - (n - 1) * size)
            url = await self.store.presign_part(
                upload.object_key,
                upload_id=upload.multipart_upload_id,
                part_number=n,
                size=part_size,
                expires_in=self.policy.url_expire_seconds,
            )
            found.append(PartTicket(n, url, part_size))
        return found

    async def request_thumbnail_upload(
        self,
        *,
        user: AccessClaims,
        video_id: uuid.UUID,
        filename: str,
        file_size: int,
        content_type: str,
    ) -> Ticket:
        """A presigned PUT for a thumbnail of a video `user` may manage."""
        video = await self.videos.managed(video_id, user)
        upload_id = uuid.uuid4()
        # Private until a worker has decoded it: only then is it copied under public/.
        key = f"uploads/thumbnails/{video.id}/{upload_id}{EXTENSIONS[content_type]}"
        url = await self._presign_put(key, content_type, file_size)
        new = NewUpload(
            id=upload_id,
            object_key=key,
            filename=filename,
            content_type=content_type,
            file_size=file_size,
            expires_in_seconds=self.policy.url_expire_seconds,
        )
        upload = await uploads.create_thumbnail_upload(
            self.db, video_id=video.id, owner_id=uuid.UUID(user.user_id), new=new
        )
        return Ticket(upload, url)

    # --- completion -----------------------------------------------------------------------

    async def _own_upload(self, upload_id: uuid.UUID, user: AccessClaims) -> Upload:
        upload = await uploads.get(self.db, upload_id)
        if upload is None or (upload.owner_id != caller_id(user) and user.role != "admin"):
            raise NotFound("Upload not found")
        return upload

    async def complete(
        self, upload_id: uuid.UUID, *, user: AccessClaims, parts: list[UploadedPart] | None
    ) -> tuple[Upload, Processing]:
        """Verify the object with the store, then move the upload on (idempotent)."""
        upload = await self._own_upload(upload_id, user)
        if upload.state == "pending":
            await self._finish_object(upload, parts)
            await self._verify_object(upload)
            await self._mark_completed(upload)
        state = await uploads.processing(self.db, upload.video_id)
        if state is None:
            raise NotFound("Video not found")
        return upload, state

    async def _finish_object(self, upload: Upload, parts: list[UploadedPart] | None) -> None:
        """Assemble a multipart upload from the parts the store holds (asked with ListParts,
        so nothing is taken from the client on trust), after checking every part is there
        with its size. A client that lists its parts must agree with the store."""
        if upload.multipart_upload_id is None:
            if parts:
                raise Conflict("`parts` is only for multipart uploads")
            return
        stored = await self._stored_parts(upload)
        if not stored:
            return  # assembled by an earlier complete
        if parts is not None:
            given = {p.part_number: p.etag.strip('"') for p in parts}
            held = {p.part_number: p.etag.strip('"') for p in stored}
            if given != held:
                raise Conflict(
                    "The parts listed are not the parts the store holds",
                    details={"reason": "parts_differ"},
                    field_errors={
                        "parts": ["Send each part's number with the ETag its PUT answered"]
                    },
                )
        try:
            await self.store.complete_multipart(
                upload.object_key, upload_id=upload.multipart_upload_id, parts=stored
            )
        except StoreRefused as exc:
            if await self.store.head(upload.object_key) is None:  # not a retried complete
                raise Conflict(
                    "The store refused to assemble the parts", details={"reason": exc.code}
                ) from exc

    async def _stored_parts(self, upload: Upload) -> list[UploadedPart]:
        """Every part of the upload, as the store holds them; CONFLICT listing what is missing
        or of the wrong size (S3 would assemble any subset)."""
        assert upload.multipart_upload_id is not None
        try:
            stored = await self.store.list_parts(
                upload.object_key, upload_id=upload.multipart_upload_id
            )
        except StoreRefused:
            if await self.store.head(upload.object_key) is not None:
                return []  # assembled already: a retried complete
            raise
        size, total = self.policy.part_bytes, upload.file_size
        count = math.ceil(total / size)
        sizes = {p.part_number: p.size for p in stored}
        wrong = [
            n for n in range(1, count + 1) if sizes.get(n) != min(size, total - (n - 1) * size)
        ]
        if wrong or len(stored) != count:
            raise Conflict(
                f"This upload needs parts 1 to {count}, each of its size",
                details={"reason": "parts_missing", "missing_parts": wrong[:100]},
                field_errors={"parts": [f"Part {n} is missing or incomplete" for n in wrong[:20]]},
            )
        return stored

    async def _verify_object(self, upload: Upload) -> None:
        found = await self.store.head(upload.object_key)
        if found is None:
            raise Conflict("The file has not been uploaded yet", details={"reason": "not_uploaded"})
        wrong_type = found.content_type not in UNKNOWN_TYPES | {upload.content_type}
        if found.size != upload.file_size or wrong_type:
            await self.store.delete(upload.object_key)
            raise Conflict(
                "The uploaded file is not the one requested (size or type differ)",
                details={
                    "reason": "object_mismatch",
                    "expected_size": upload.file_size,
                    "actual_size": found.size,
                },
            )

    async def _mark_completed(self, upload: Upload) -> None:
        """`completed`, with the job that processes the object, in one transaction."""
        async with self.db.acquire() as conn, conn.transaction():
            done = await uploads.mark_completed(
                conn, upload.id, grace_seconds=self.policy.cleanup_grace_seconds
            )
            if not done:
                current = await uploads.get(conn, upload.id)
                if current is not None and current.state != "pending":
                    return  # a concurrent complete won
                raise NotFound("Upload not found or expired")
            video = upload.kind == "video"
            await jobs.enqueue(
                conn,
                kind=TRANSCODE if video else THUMBNAIL,
                payload={"video_id": str(upload.video_id), "upload_id": str(upload.id)},
                dedupe_key=str(upload.video_id if video else upload.id),
            )

    async def publish_thumbnail(self, upload: Upload, image: Path) -> str:
        """Publish a decoded thumbnail: its public copy, the video's `thumbnail_url`, then
        the private upload deleted (a retry after a crash finds it gone and stops)."""
        key = f"public/thumbnails/{upload.video_id}/{upload.id}{EXTENSIONS[upload.content_type]}"
        await self.store.upload_file(
            key, image, content_type=upload.content_type, cache_control=IMMUTABLE_CACHE
        )
        url = self.store.public_url(key)
        await uploads.set_thumbnail(self.db, upload.video_id, url)
        await self.store.delete(upload.object_key)
        await self.videos.processing_changed(upload.video_id)
        return url

    async def reject_thumbnail(self, upload: Upload, reason: str) -> None:
        await uploads.reject(self.db, upload.id, reason=reason)
        await self.store.delete(upload.object_key)
        log.info("thumbnail rejected", extra={"upload_id": str(upload.id), "reason": reason})

    async def complete_stray_uploads(self, *, older_than_seconds: float = 60) -> int:
        """Complete pending single-PUT uploads whose object is in the store, for clients
        that uploaded and never called complete (the same checks as `complete`)."""
        completed = 0
        for upload in await uploads.pending_single(self.db, older_than_seconds=older_than_seconds):
            if await self.store.head(upload.object_key) is None:
                continue  # not uploaded (yet): the expiry clean-up decides its fate
            try:
                await self._verify_object(upload)
                await self._mark_completed(upload)
            except (Conflict, NotFound):
                continue  # a wrong object (deleted by the check), or expired meanwhile
            completed += 1
        return completed
