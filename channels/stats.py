"""Counters the realtime node keeps for operators; server/metrics.py exports them at scrape time.

They are plain integers, not Prometheus objects. The fan-out loop pays one addition per batch
of frames, and channels/ stays free of any metrics library. Only the event loop's thread
writes them; a scrape only reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class HubStats:
    connections: int = 0  # open sockets on this node
    messages_in: dict[str, int] = field(default_factory=dict)  # frames from clients, by type
    messages_out: int = 0  # frames written to sockets (fan-out, replies, errors)
    slow_consumers_dropped: int = 0  # sockets closed because unsent bytes passed the bound
    rejected_messages: int = 0  # frames refused by WS_MAX_MESSAGES_PER_SECOND
    rejected_connections: int = 0  # refused: WS_MAX_CONNECTIONS_PER_USER / _ANONYMOUS_..._PER_IP

    def message_in(self, frame_type: str) -> None:
        self.messages_in[frame_type] = self.messages_in.get(frame_type, 0) + 1
