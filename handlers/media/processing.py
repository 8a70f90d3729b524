"""Applying what processing produced: the one path from `uploaded` to `ready` or `error`,
taken by our transcode job and by the webhook of an external processor alike, and the events
that tell the uploader and the video's watchers.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

import asyncpg

from core import webhooks
from core.errors import NotFound
from handlers.media.events import MediaEvents, Status
from handlers.videos.service import VideoService
from storage.media import uploads
from storage.media.uploads import Processing


@dataclass(frozen=True, slots=True)
class ProcessingResult:
    """What a transcode produced (`ok`), or why it failed."""

    ok: bool
    video_url: str = ""
    quality_variants: dict[str, str] = field(default_factory=dict)
    duration: int = 0
    thumbnail_url: str | None = None
    error: str = ""


class ProcessingService:
    def __init__(
        self,
        *,
        db: asyncpg.Pool,
        videos: VideoService,
        events: MediaEvents,
        webhook_secret: str | None,
        webhook_tolerance_seconds: float,
    ) -> None:
        self.db = db
        self.videos = videos
        self.events = events
        self.webhook_secret = webhook_secret
        self.webhook_tolerance_seconds = webhook_tolerance_seconds

    async def start_processing(self, video_id: uuid.UUID) -> Processing | None:
        """`uploaded` -> `processing` (a retry finds it `processing`); None: nothing to do."""
        state = await uploads.start_processing(self.db, video_id)
        if state is not None:
            await self.report(state, "processing", percent=0.0)
        return state

    async def report(
        self,
        state: Processing,
        status: Status,
        *,
        percent: float | None = None,
        error: str | None = None,
    ) -> None:
        await self.events.processing(
            video_id=state.video_id,
            author_id=state.author_id,
            status=status,
            percent=percent,
            error=error,
        )

    async def apply_result(
        self, video_id: uuid.UUID, result: ProcessingResult, *, delivery: str | None = None
    ) -> bool:
        """Apply a processing result (worker or webhook): `ready` with its URLs, or `error`
        with a reason. False when it changed nothing: a repeated delivery (`delivery`, the
        webhook's digest, already seen) or a result already applied."""
        async with self.db.acquire() as conn, conn.transaction():
            if await uploads.processing(conn, video_id) is None:
                raise NotFound("Video not found")
            if delivery is not None and not await uploads.record_delivery(
                conn, digest=delivery, video_id=video_id
            ):
                return False
            if result.ok:
                state = await uploads.finish_ready(
                    conn,
                    video_id,
                    video_url=result.video_url,
                    quality_variants=result.quality_variants,
                    duration=result.duration,
                    thumbnail_url=result.thumbnail_url,
                )
            else:
                state = await uploads.finish_error(conn, video_id, reason=result.error)
        if state is None:
            return False
        if result.ok:
            await self.report(state, "ready", percent=100.0)
        else:
            await self.report(state, "error", error=state.processing_error)
        await self.videos.processing_changed(video_id)
        return True

    def verify_webhook(self, raw: bytes, signature: str | None) -> str:
        """The delivery's digest when it is signed with our secret and fresh."""
        secret = self.webhook_secret
        if not secret:
            raise NotFound("The processing webhook is not enabled on this node")
        return webhooks.verify(
            secret,
            signature,
            raw,
            now=time.time(),
            tolerance=self.webhook_tolerance_seconds,
        )
