"""The media pipeline's background work, run by `python run.py worker` (never by a node):

- `media.transcode`: probe the uploaded source, transcode it with one FFmpeg process into the
  HLS ladder, extract a thumbnail, upload the results and apply them (`ready`), or `error`
  with a reason. Idempotent: a run writes under a prefix of its own after deleting what an
  earlier, interrupted run of the same video left, so a killed worker's job, run again by
  another, yields the same video.
- `media.thumbnail`: decode an uploaded thumbnail (PyAV); publish it under `public/` and
  set the video's `thumbnail_url`, or reject it (`media_uploads.state = 'rejected'`).
- `media.expire_uploads` (periodic): uploads whose object is in the store but whose client
  never called complete are completed (a poll, after HEAD checks); uploads never completed
  before they expire are deleted with their objects.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import NotFound
from handlers.media import cleanup, transcode
from handlers.media.processing import ProcessingResult
from handlers.media.service import (
    IMMUTABLE_CACHE,
    THUMBNAIL,
    TRANSCODE,
    MediaService,
    results_prefix,
)
from jobs.context import JobContext
from jobs.registry import JobKind
from storage.media import uploads
from storage.media.uploads import Processing

log = logging.getLogger("streamhub.media.jobs")

EXPIRE_UPLOADS = "media.expire_uploads"
# Progress events are published at most this often per video (the job's own store of its
# progress is throttled by the runner).
EVENT_INTERVAL_S = 1.0
UPLOAD_CONCURRENCY = 4
PLAYLIST_CACHE = "public, max-age=60"
CONTENT_TYPES = {
    ".m3u8": ("application/vnd.apple.mpegurl", PLAYLIST_CACHE),
    ".ts": ("video/mp2t", IMMUTABLE_CACHE),
    ".jpg": ("image/jpeg", IMMUTABLE_CACHE),
}
# Shares of the percent reported: download, FFmpeg, upload of the results.
DOWNLOADED, TRANSCODED = 5.0, 90.0


@dataclass(frozen=True, slots=True)
class TranscodeOptions:
    ffmpeg_path: str | None = None
    threads: int = 0
    work_dir: Path | None = None  # None: the system's temporary folder


class Reporter:
    """Progress to the job's record and, at most once a second, to the video's watchers."""

    def __init__(self, ctx: JobContext, media: MediaService, state: Processing) -> None:
        self.ctx, self.media, self.state = ctx, media, state
        self._last = 0.0

    async def __call__(self, percent: float) -> None:
        percent = round(min(99.0, percent), 1)
        await self.ctx.progress(percent)
        now = time.monotonic()
        if now - self._last >= EVENT_INTERVAL_S:
            self._last = now
            await self.media.processing.report(self.state, "processing", percent=percent)


async def run_pipeline(
    media: MediaService,
    *,
    video_id: uuid.UUID,
    source_key: str,
    run: str,
    options: TranscodeOptions,
    report: Reporter,
) -> ProcessingResult:
    """Download, probe, transcode, upload; the result to apply. Raises NotAVideo for a
    source that is not a video, FFmpegFailed when FFmpeg fails."""
    store = media.store
    with tempfile.TemporaryDirectory(prefix="streamhub-transcode-", dir=options.work_dir) as tmp:
        folder = Path(tmp)
        source = folder / "source"
        await store.download(source_key, source)
        await report(DOWNLOADED)
        probe = await transcode.probe(source)
        rungs = transcode.ladder_for(probe.height)
        out = folder / "out"
        out.mkdir()
        ffmpeg = transcode.ffmpeg_binary(options.ffmpeg_path)
        command = transcode.hls_command(
            ffmpeg,
            source,
            out,
            rungs,
            has_audio=probe.audio_codec is not None,
            threads=options.threads,
        )

        async def on_ffmpeg(percent: float) -> None:
            await report(DOWNLOADED + percent * (TRANSCODED - DOWNLOADED) / 100)

        await transcode.run_ffmpeg(command, duration=probe.duration, on_progress=on_ffmpeg)
        state = await uploads.processing(media.db, video_id)
        wants_thumbnail = state is not None and not state.thumbnail_url
        if wants_thumbnail:
            await transcode.run_ffmpeg(
                transcode.thumbnail_command(ffmpeg, source, out, probe),
                duration=0,
                on_progress=on_ffmpeg,
            )
        await report(TRANSCODED)
        # What an interrupted earlier run wrote goes first; this run's prefix is its own.
        await store.delete_prefix(results_prefix(video_id))
        prefix = f"{results_prefix(video_id)}{run}/"
        await _upload_tree(media, out, prefix)
    return ProcessingResult(
        ok=True,
        video_url=store.public_url(prefix + transcode.MASTER),
        quality_variants={
            rung.name: store.public_url(f"{prefix}{rung.name}/index.m3u8") for rung in rungs
        },
        duration=round(probe.duration),
        thumbnail_url=store.public_url(prefix + transcode.THUMBNAIL) if wants_thumbnail else None,
    )


async def _upload_tree(media: MediaService, out: Path, prefix: str) -> None:
    files = await asyncio.to_thread(lambda: sorted(p for p in out.rglob("*") if p.is_file()))
    limit = asyncio.Semaphore(UPLOAD_CONCURRENCY)

    async def put(path: Path) -> None:
        content_type, cache = CONTENT_TYPES.get(path.suffix, ("application/octet-stream", ""))
        async with limit:
            await media.store.upload_file(
                prefix + path.relative_to(out).as_posix(),
                path,
                content_type=content_type,
                cache_control=cache or PLAYLIST_CACHE,
            )

    await asyncio.gather(*(put(path) for path in files))


def transcode_kind(
    *,
    media: MediaService,
    options: TranscodeOptions,
    timeout_seconds: float,
    max_attempts: int = 3,
    backoff_base_seconds: float = 10.0,
) -> JobKind:
    async def handle(ctx: JobContext, payload: Any) -> None:
        video_id = uuid.UUID(payload["video_id"])
        upload = await uploads.get(media.db, uuid.UUID(payload["upload_id"]))
        state = await media.processing.start_processing(video_id)
        if state is None or upload is None:
            return  # deleted meanwhile, or already ready or in error: nothing to do
        run = f"{ctx.job_id.hex[:12]}-{ctx.attempt}"
        try:
            result = await run_pipeline(
                media,
                video_id=video_id,
                source_key=upload.object_key,
                run=run,
                options=options,
                report=Reporter(ctx, media, state),
            )
        except transcode.NotAVideo as exc:
            # The file will not get better: no retry.
            await media.processing.apply_result(
                video_id, ProcessingResult(ok=False, error=str(exc))
            )
            return
        except Exception as exc:
            if ctx.attempt >= ctx.max_attempts:
                reason = f"processing failed: {exc}"[:1000]
                await media.processing.apply_result(
                    video_id, ProcessingResult(ok=False, error=reason)
                )
            raise  # retried with backoff while attempts are left
        try:
            await media.processing.apply_result(video_id, result)
        except NotFound:
            # Deleted while we transcoded (its objects may have been swept already).
            await media.store.delete_prefix(results_prefix(video_id))

    return JobKind(
        name=TRANSCODE,
        handler=handle,
        max_attempts=max_attempts,
        backoff_base_seconds=backoff_base_seconds,
        timeout_seconds=timeout_seconds,
    )


def thumbnail_kind(*, media: MediaService) -> JobKind:
    """`media.thumbnail`: decode an uploaded thumbnail, then publish it or reject it."""

    async def handle(ctx: JobContext, payload: Any) -> None:
        upload = await uploads.get(media.db, uuid.UUID(payload["upload_id"]))
        if upload is None or await media.store.head(upload.object_key) is None:
            return  # its video was deleted, or an earlier attempt published it
        with tempfile.TemporaryDirectory(prefix="streamhub-thumbnail-") as tmp:
            image = Path(tmp) / "image"
            await media.store.download(upload.object_key, image)
            try:
                await transcode.check_image(image, upload.content_type)
            except transcode.NotAVideo as exc:
                await media.reject_thumbnail(upload, str(exc))
                return
            await media.publish_thumbnail(upload, image)
        await ctx.progress(100)

    return JobKind(name=THUMBNAIL, handler=handle, max_attempts=5, timeout_seconds=120)


def expire_uploads_kind(*, media: MediaService, every_seconds: float) -> JobKind:
    async def handle(ctx: JobContext, _payload: Any) -> None:
        completed = await media.complete_stray_uploads()
        removed = await cleanup.expire_uploads(media)
        await ctx.progress(100, f"{completed} stray uploads completed, {removed} expired removed")

    return JobKind(
        name=EXPIRE_UPLOADS,
        handler=handle,
        every_seconds=every_seconds,
        max_attempts=1,
        timeout_seconds=max(60.0, every_seconds),
    )
