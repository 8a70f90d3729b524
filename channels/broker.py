"""The broker: how an event reaches every node's subscribers of a channel.

Channels are strings such as `video:{id}` and `user:{id}`. Events are JSON-able dicts whose
`type` names a message of docs/PROTOCOL.md (e.g. `video_update`, `new_comment`).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any


class Broker(abc.ABC):
    """Publishes events to channels.

    Guarantees: events published on one channel from one node are delivered to that channel's
    subscribers in publish order; delivery is at most once (a subscriber that is gone misses it).
    `publish` never raises because nobody listens.
    """

    @abc.abstractmethod
    async def publish(self, channel: str, event: Mapping[str, Any]) -> None: ...


class MemoryBroker(Broker):
    """In-process broker for a single node; also records events for inspection in tests."""

    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []

    async def publish(self, channel: str, event: Mapping[str, Any]) -> None:
        self.published.append((channel, dict(event)))
