"""Live streams as CLUTCH's `live_stream` message shapes them (REST and WebSocket alike)."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel

from server.http.models import RequestModel

LiveState = Literal["live", "offline"]


class LiveRequest(RequestModel):
    status: LiveState


class LiveStream(BaseModel):
    type: Literal["live_stream"] = "live_stream"
    video_id: uuid.UUID
    status: LiveState
    viewer_count: int
