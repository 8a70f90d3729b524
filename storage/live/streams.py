"""Live-stream status of videos (table `live_streams`, migration 0010)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from storage.db import Conn


@dataclass(frozen=True, slots=True)
class LiveStatus:
    video_id: uuid.UUID
    status: str  # "live" | "offline"
    started_at: datetime | None


async def set_status(conn: Conn, *, video_id: uuid.UUID, status: str) -> LiveStatus:
    """Go live or offline. Going live again while live keeps the original start time."""
    row = await conn.fetchrow(
        """INSERT INTO live_streams AS l (video_id, status, started_at)
           VALUES ($1, $2, CASE WHEN $2 = 'live' THEN now() END)
           ON CONFLICT (video_id) DO UPDATE SET
               status = EXCLUDED.status,
               started_at = CASE WHEN EXCLUDED.status = 'live'
                                 THEN coalesce(l.started_at, now()) END,
               updated_at = now()
           RETURNING video_id, status, started_at""",
        video_id,
        status,
    )
    assert row is not None
    return LiveStatus(row["video_id"], row["status"], row["started_at"])


async def get_status(conn: Conn, video_id: uuid.UUID) -> LiveStatus:
    row = await conn.fetchrow(
        "SELECT video_id, status, started_at FROM live_streams WHERE video_id = $1", video_id
    )
    if row is None:
        return LiveStatus(video_id, "offline", None)
    return LiveStatus(row["video_id"], row["status"], row["started_at"])


async def all_live(conn: Conn, *, limit: int = 10_000) -> list[uuid.UUID]:
    """Every video live now (bounded: the viewer-count push visits each once a period)."""
    rows = await conn.fetch(
        "SELECT video_id FROM live_streams WHERE status = 'live' ORDER BY video_id LIMIT $1",
        limit,
    )
    return [row["video_id"] for row in rows]
