"""Live streams as CLUTCH's `live_stream` message shapes them (REST and WebSocket alike)."""

from __future__ import annotations

import uuid
from typing import Literal

from channels.protocol import Event
from server.http.models import RequestModel

LiveState = Literal["live", "offline"]


class LiveRequest(RequestModel):
    status: LiveState


class LiveStream(Event):
    """The REST answer, and the event published on `video:{id}` (handlers/live/events.py)."""

    type: Literal["live_stream"] = "live_stream"
    video_id: uuid.UUID
    status: LiveState
    viewer_count: int
