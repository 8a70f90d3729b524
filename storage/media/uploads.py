"""Uploads to object storage and the processing state they drive (migration 0060).

A video upload creates its video row in the same transaction (state `uploaded`, not listed,
counted in the author's `total_videos` like any video). Completing an upload is a guarded
state change (`pending` -> `completed`) so that two completes, or a complete racing the
expiry clean-up, change the row once: whoever updates or deletes the row first wins.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import asyncpg

from storage.db import Conn
from storage.videos.videos import TRENDING_WEIGHTS

UploadKind = Literal["video", "thumbnail"]


@dataclass(frozen=True, slots=True)
class Upload:
    id: uuid.UUID
    video_id: uuid.UUID
    owner_id: uuid.UUID
    kind: str
    object_key: str
    filename: str
    content_type: str
    file_size: int
    multipart_upload_id: str | None
    state: str
    error: str
    expires_at: datetime
    created_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class NewUpload:
    id: uuid.UUID
    object_key: str
    filename: str
    content_type: str
    file_size: int
    expires_in_seconds: float
    multipart_upload_id: str | None = None


@dataclass(frozen=True, slots=True)
class Processing:
    """A video's processing state, and who may hear about it."""

    video_id: uuid.UUID
    author_id: uuid.UUID
    processing_status: str
    processing_error: str
    thumbnail_url: str


_COLUMNS = """id, video_id, owner_id, kind, object_key, filename, content_type, file_size,
    multipart_upload_id, state, error, expires_at, created_at, completed_at"""
_PROCESSING = "id AS video_id, author_id, processing_status, processing_error, thumbnail_url"


def _upload(row: asyncpg.Record) -> Upload:
    return Upload(**dict(row))


async def _insert(
    conn: Conn, new: NewUpload, *, kind: UploadKind, video_id: uuid.UUID, owner_id: uuid.UUID
) -> Upload:
    row = await conn.fetchrow(
        f"""INSERT INTO media_uploads (id, video_id, owner_id, kind, object_key, filename,
                                       content_type, file_size, multipart_upload_id, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now() + make_interval(secs => $10))
            RETURNING {_COLUMNS}""",
        new.id, video_id, owner_id, kind, new.object_key, new.filename, new.content_type,
        new.file_size, new.multipart_upload_id, new.expires_in_seconds,
    )  # fmt: skip
    assert row is not None
    return _upload(row)


async def create_video_upload(
    pool: asyncpg.Pool, *, video_id: uuid.UUID, owner_id: uuid.UUID, title: str, new: NewUpload
) -> Upload:
    """The video row (state `uploaded`) and its pending upload, in one transaction."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            f"""INSERT INTO videos (id, author_id, title, processing_status, trending_score)
                VALUES ($1, $2, $3, 'uploaded',
                        trending_bump(NULL, {TRENDING_WEIGHTS["publish"]}, now()))""",
            video_id, owner_id, title,
        )  # fmt: skip
        await conn.execute(
            "UPDATE users SET total_videos = total_videos + 1 WHERE id = $1", owner_id
        )
        return await _insert(conn, new, kind="video", video_id=video_id, owner_id=owner_id)


async def create_thumbnail_upload(
    conn: Conn, *, video_id: uuid.UUID, owner_id: uuid.UUID, new: NewUpload
) -> Upload:
    return await _insert(conn, new, kind="thumbnail", video_id=video_id, owner_id=owner_id)


async def get(conn: Conn, upload_id: uuid.UUID) -> Upload | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM media_uploads WHERE id = $1", upload_id)
    return _upload(row) if row is not None else None


async def mark_completed(conn: Conn, upload_id: uuid.UUID, *, grace_seconds: float) -> bool:
    """`pending` -> `completed` while the upload may still finish; False if it was not."""
    status = await conn.execute(
        """UPDATE media_uploads SET state = 'completed', completed_at = now()
           WHERE id = $1 AND state = 'pending'
             AND expires_at + make_interval(secs => $2) > now()""",
        upload_id, grace_seconds,
    )  # fmt: skip
    return bool(status == "UPDATE 1")


async def pending_single(
    conn: Conn, *, older_than_seconds: float, limit: int = 100
) -> list[Upload]:
    """Pending single-PUT uploads older than `older_than_seconds`, oldest first (to ask the
    store whether their client uploaded and never called complete)."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM media_uploads
            WHERE state = 'pending' AND multipart_upload_id IS NULL
              AND created_at <= now() - make_interval(secs => $1)
            ORDER BY created_at LIMIT $2""",
        older_than_seconds, limit,
    )  # fmt: skip
    return [_upload(row) for row in rows]


async def reject(conn: Conn, upload_id: uuid.UUID, *, reason: str) -> None:
    await conn.execute(
        "UPDATE media_uploads SET state = 'rejected', error = $2 WHERE id = $1",
        upload_id, reason[:1000],
    )  # fmt: skip


async def take_expired(conn: Conn, *, grace_seconds: float, limit: int = 100) -> list[Upload]:
    """Delete and return pending uploads whose URL expired more than `grace_seconds` ago."""
    rows = await conn.fetch(
        f"""DELETE FROM media_uploads WHERE id IN (
                SELECT id FROM media_uploads
                WHERE state = 'pending' AND expires_at + make_interval(secs => $1) <= now()
                ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)
            RETURNING {_COLUMNS}""",
        grace_seconds, limit,
    )  # fmt: skip
    return [_upload(row) for row in rows]


async def video_never_uploaded(conn: Conn, video_id: uuid.UUID) -> bool:
    """A video still `uploaded` with no video upload left (pending or completed)."""
    found: bool = await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM videos v WHERE v.id = $1
                          AND v.processing_status = 'uploaded'
                          AND NOT EXISTS (SELECT 1 FROM media_uploads m
                                          WHERE m.video_id = v.id AND m.kind = 'video'))""",
        video_id,
    )
    return found


# --- processing state ------------------------------------------------------------------


async def processing(conn: Conn, video_id: uuid.UUID) -> Processing | None:
    row = await conn.fetchrow(f"SELECT {_PROCESSING} FROM videos WHERE id = $1", video_id)
    return Processing(**dict(row)) if row is not None else None


async def start_processing(conn: Conn, video_id: uuid.UUID) -> Processing | None:
    """`uploaded` (or `processing`, a retried job) -> `processing`; None if neither."""
    row = await conn.fetchrow(
        f"""UPDATE videos SET processing_status = 'processing', processing_error = '',
                              updated_at = now()
            WHERE id = $1 AND processing_status IN ('uploaded', 'processing')
            RETURNING {_PROCESSING}""",
        video_id,
    )
    return Processing(**dict(row)) if row is not None else None


async def finish_ready(
    conn: Conn,
    video_id: uuid.UUID,
    *,
    video_url: str,
    quality_variants: dict[str, str],
    duration: int,
    thumbnail_url: str | None,
) -> Processing | None:
    """Make the video `ready` with these results (published now if it never was).

    A thumbnail the author uploaded wins over the extracted one. None when nothing changed
    (the same result applied again) or there is no such video.
    """
    row = await conn.fetchrow(
        f"""UPDATE videos SET processing_status = 'ready', processing_error = '',
                video_url = $2, quality_variants = $3, duration = $4,
                thumbnail_url = CASE WHEN thumbnail_url = '' THEN coalesce($5, '')
                                     ELSE thumbnail_url END,
                published_at = coalesce(published_at, now()), updated_at = now()
            WHERE id = $1 AND (processing_status, video_url, quality_variants, duration)
                  IS DISTINCT FROM ('ready', $2, $3::jsonb, $4)
            RETURNING {_PROCESSING}""",
        video_id, video_url, quality_variants, duration, thumbnail_url,
    )  # fmt: skip
    return Processing(**dict(row)) if row is not None else None


async def finish_error(conn: Conn, video_id: uuid.UUID, *, reason: str) -> Processing | None:
    """Put the video in `error` with `reason`; None when it already was, or no such video."""
    row = await conn.fetchrow(
        f"""UPDATE videos SET processing_status = 'error', processing_error = $2,
                              updated_at = now()
            WHERE id = $1 AND (processing_status, processing_error)
                  IS DISTINCT FROM ('error', $2)
            RETURNING {_PROCESSING}""",
        video_id, reason[:1000],
    )  # fmt: skip
    return Processing(**dict(row)) if row is not None else None


async def set_thumbnail(conn: Conn, video_id: uuid.UUID, url: str) -> None:
    await conn.execute(
        "UPDATE videos SET thumbnail_url = $2, updated_at = now() WHERE id = $1", video_id, url
    )


# --- webhook deliveries -------------------------------------------------------------------


async def record_delivery(conn: Conn, *, digest: str, video_id: uuid.UUID) -> bool:
    """Remember a webhook delivery; False when it was seen already (a replay)."""
    seen = await conn.fetchval(
        """INSERT INTO media_webhook_deliveries (digest, video_id) VALUES ($1, $2)
           ON CONFLICT DO NOTHING RETURNING true""",
        digest, video_id,
    )  # fmt: skip
    return bool(seen)


async def prune_deliveries(conn: Conn, *, older_than_seconds: float) -> None:
    await conn.execute(
        "DELETE FROM media_webhook_deliveries"
        " WHERE received_at < now() - make_interval(secs => $1)",
        older_than_seconds,
    )


async def deleted_videos(conn: Conn, *, limit: int = 100) -> list[uuid.UUID]:
    """Videos deleted since their objects were last swept (oldest first)."""
    rows = await conn.fetch(
        "SELECT video_id FROM media_deleted_videos ORDER BY deleted_at LIMIT $1", limit
    )
    return [row["video_id"] for row in rows]


async def forget_deleted_video(conn: Conn, video_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM media_deleted_videos WHERE video_id = $1", video_id)
