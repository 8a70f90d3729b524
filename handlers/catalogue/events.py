"""What the catalogue domain publishes: `watch_progress` on the user's own `user:{id}`
channel, so a second screen can resume where the first stopped (shape in docs/PROTOCOL.md).

Published after the history row is committed, under `channels.publisher.Publisher`'s failure
policy: if Redis is down the progress is saved and the event is lost (devices read
GET /api/watch-history on start)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from channels.protocol import Event
from channels.publisher import Publisher
from handlers.accounts.service import user_channel


class WatchProgress(Event):
    type: Literal["watch_progress"] = "watch_progress"
    movie_id: str
    tmdb_id: int
    media_type: Literal["movie", "tv"]
    progress: float
    runtime: float
    watched_at: datetime
    device_id: str | None = None


EVENTS: tuple[type[Event], ...] = (WatchProgress,)


class LibraryEvents:
    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher

    async def progress(self, user_id: uuid.UUID, event: WatchProgress) -> None:
        await self.publisher.publish(user_channel(user_id), event)
