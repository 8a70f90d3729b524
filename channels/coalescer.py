"""Coalescing: at most `hz` coalesced messages per second per channel.

A channel's kind says which event types may be coalesced and how two of them merge
(channels/kinds.py). A burst merges into the pending event and leaves on a timer; the trailing
flush means the final values always arrive. Any other message on the channel (or one of
another coalescible type) first flushes the pending event, so clients still see offsets in
order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

Emit = Callable[[str, dict[str, Any]], None]  # (offset, event)
Merge = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]  # (older, newer) -> sent


class Coalescer:
    """One channel's rate limiter. Memory: one pending event and one timer handle."""

    __slots__ = ("_clock", "_emit", "_handle", "_interval", "_last", "_loop", "_pending")

    def __init__(
        self,
        emit: Emit,
        *,
        hz: float,
        loop: asyncio.AbstractEventLoop | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._emit = emit
        self._interval = 1.0 / hz
        self._loop = loop or asyncio.get_running_loop()
        self._clock = clock
        self._last = float("-inf")
        self._pending: tuple[str, dict[str, Any]] | None = None
        self._handle: asyncio.TimerHandle | None = None

    def offer(self, offset: str, event: dict[str, Any], merge: Merge) -> None:
        """Accept a coalescible event; emit now if the channel is below its rate, else merge
        it into the pending one (which then takes its offset)."""
        if self._pending is not None:
            _, pending = self._pending
            if pending.get("type") == event.get("type"):
                self._pending = (offset, merge(pending, event))
                return
            self.flush()
        wait = self._last + self._interval - self._clock()
        if wait <= 0:
            self._send(offset, event)
            return
        self._pending = (offset, event)
        self._handle = self._loop.call_later(wait, self.flush)

    def flush(self) -> None:
        """Emit the pending event now (before another message, or when its timer fires)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._pending is not None:
            offset, event = self._pending
            self._pending = None
            self._send(offset, event)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = None
        self._pending = None

    def _send(self, offset: str, event: dict[str, Any]) -> None:
        self._last = self._clock()
        self._emit(offset, event)
