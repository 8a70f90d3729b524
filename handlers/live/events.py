"""What the live domain publishes: CLUTCH's `live_stream` on `video:{id}` (docs/PROTOCOL.md),
the same shape as the REST answer, when a video goes live or offline and when a live video's
viewer count changes (handlers/live/service.py)."""

from __future__ import annotations

from channels.protocol import Event
from handlers.live.models import LiveStream

EVENTS: tuple[type[Event], ...] = (LiveStream,)
