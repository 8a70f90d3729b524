"""The media domain's clean-up (the periodic `media.expire_uploads` job): uploads never
completed, and the stored objects of deleted videos."""

from __future__ import annotations

from handlers.media.service import MediaService, results_prefix
from storage.media import uploads
from storage.videos import videos


async def expire_uploads(media: MediaService) -> int:
    """Delete uploads never completed (their objects, and a video with nothing else), and
    the objects of videos deleted since the last run."""
    async with media.db.acquire() as conn, conn.transaction():
        taken = await uploads.take_expired(conn, grace_seconds=media.policy.cleanup_grace_seconds)
        # Objects go first, rows at commit: if the store fails, the rows stay and the
        # next run tries again (deleting what is not there succeeds).
        for upload in taken:
            if upload.multipart_upload_id is not None:
                await media.store.abort_multipart(
                    upload.object_key, upload_id=upload.multipart_upload_id
                )
            await media.store.delete(upload.object_key)
    for video_id in {u.video_id for u in taken if u.kind == "video"}:
        if await uploads.video_never_uploaded(media.db, video_id):
            await videos.delete(media.db, video_id)
            await media.videos.processing_changed(video_id)
    await _sweep_deleted_videos(media)
    await uploads.prune_deliveries(
        media.db, older_than_seconds=2 * media.policy.webhook_tolerance_seconds
    )
    return len(taken)


async def _sweep_deleted_videos(media: MediaService) -> None:
    """Delete the objects of deleted videos (recorded by a trigger, migration 0060)."""
    for video_id in await uploads.deleted_videos(media.db):
        for prefix in (
            f"uploads/{video_id}/",
            f"uploads/thumbnails/{video_id}/",
            results_prefix(video_id),
            f"public/thumbnails/{video_id}/",
        ):
            await media.store.delete_prefix(prefix)
        await uploads.forget_deleted_video(media.db, video_id)
