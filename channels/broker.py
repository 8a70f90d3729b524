"""The broker: how an event reaches every node's subscribers of a channel.

Channels are strings, `<prefix>:<id>` (the prefixes are the kinds domains register,
channels/kinds.py). Events are JSON-able dicts whose `type` names a message of
docs/PROTOCOL.md. The broker moves bytes: `publish` serializes once at the edge, and
listeners receive the same bytes with the channel offset the broker assigned, so no
implementation ever re-encodes a payload.
"""

from __future__ import annotations

import abc
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from channels.protocol import offset_key

# Called for every publication on a channel this node subscribed to: (channel, offset, payload).
Listener = Callable[[str, str, bytes], None]
# Called when live delivery may have skipped publications on any channel (a lost connection).
GapListener = Callable[[], None]


@dataclass(frozen=True, slots=True)
class Replay:
    """What a channel's history holds after an offset.

    `complete` is False when entries after `since` were already trimmed: the client has a gap
    it cannot fill and must resync. `top` is the newest offset in history (None if empty).
    """

    entries: list[tuple[str, bytes]]
    complete: bool
    top: str | None


class Broker(abc.ABC):
    """Publishes events to channels and feeds this node's listener.

    Guarantees: every publication gets an offset, strictly increasing per channel; the listener
    sees a channel's publications in offset order; delivery is at most once (a node that is
    not subscribed, or disconnected from Redis, misses it; history is how clients recover).
    A broker that may have missed publications calls the gap listener once it receives again,
    before any publication that follows. `publish` never raises because nobody listens.
    History keeps a bounded number of recent publications per channel.
    """

    _listener: Listener | None = None
    _on_gap: GapListener | None = None

    def set_listener(self, listener: Listener, *, on_gap: GapListener | None = None) -> None:
        self._listener = listener
        self._on_gap = on_gap

    async def publish(self, channel: str, event: Mapping[str, Any]) -> str:
        """Serialize `event` once and publish it; return its offset."""
        return await self.publish_bytes(channel, orjson.dumps(dict(event)))

    @abc.abstractmethod
    async def publish_bytes(self, channel: str, payload: bytes) -> str: ...

    @abc.abstractmethod
    async def subscribe(self, channel: str) -> None:
        """Start receiving `channel`; returns once publications are guaranteed to arrive."""

    @abc.abstractmethod
    async def unsubscribe(self, channel: str) -> None: ...

    @abc.abstractmethod
    async def history(self, channel: str, since: str | None) -> Replay:
        """Publications after `since` (none when `since` is None), oldest first."""

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Open connections; called once before the node serves."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; pending publications may be lost."""


class OffsetClock:
    """`<ms>-<seq>` offsets like Redis stream ids: increasing even if the clock steps back."""

    def __init__(self) -> None:
        self._last = (0, 0)

    def next(self) -> str:
        ms = int(time.time() * 1000)
        last_ms, last_seq = self._last
        self._last = (ms, 0) if ms > last_ms else (last_ms, last_seq + 1)
        return f"{self._last[0]}-{self._last[1]}"


class MemoryBroker(Broker):
    """In-process broker for a single node; also records events for inspection in tests.

    Memory: at most `history_size` payloads per channel ever published to on this process.
    """

    def __init__(self, *, history_size: int = 1000) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []
        self._history_size = history_size
        self._history: dict[str, deque[tuple[str, bytes]]] = {}
        self._clocks: dict[str, OffsetClock] = {}
        self._subscribed: set[str] = set()

    async def publish(self, channel: str, event: Mapping[str, Any]) -> str:
        self.published.append((channel, dict(event)))
        return await super().publish(channel, event)

    async def publish_bytes(self, channel: str, payload: bytes) -> str:
        offset = self._clocks.setdefault(channel, OffsetClock()).next()
        history = self._history.get(channel)
        if history is None:
            history = self._history[channel] = deque(maxlen=self._history_size)
        history.append((offset, payload))
        if channel in self._subscribed and self._listener is not None:
            self._listener(channel, offset, payload)
        return offset

    async def subscribe(self, channel: str) -> None:
        self._subscribed.add(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._subscribed.discard(channel)

    async def history(self, channel: str, since: str | None) -> Replay:
        entries = list(self._history.get(channel, ()))
        top = entries[-1][0] if entries else None
        if since is None:
            return Replay([], True, top)
        return replay_after(entries, since, top)


def replay_after(entries: list[tuple[str, bytes]], since: str, top: str | None) -> Replay:
    """Given history entries from `since` onwards (or all), cut what comes after `since`.

    `since` must still be in history for the replay to be complete: if the oldest entry kept
    is newer than `since`, something between them was trimmed.
    """
    key = offset_key(since)
    newer = [(off, data) for off, data in entries if offset_key(off) > key]
    if not newer:
        return Replay([], True, top)
    present = any(off == since for off, _ in entries)
    return Replay(newer, present, top)
