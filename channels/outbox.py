"""Fan-out frames on their way to sockets: queued per channel, written once per loop turn.

Frames are written by a flush scheduled with `call_soon`, not inside the broker's callback:
every publication the broker hands over before the event loop next runs (for Redis, all the
publications of one socket read) leaves in one `send()` per socket. The cost of fan-out is
that system call, so a busy channel costs a fraction of one call per message, and a quiet one
waits no longer than one turn of the loop (there is no timer). The hub flushes first before
it writes anything else to a socket or changes membership, so every socket still sees its
frames in order and exactly the events published while it was subscribed.

Memory: the frames of one loop turn; each socket is bounded by `max_pending_bytes` of unsent
data in its transport, and one past it is handed to `on_slow` (closed with 4008 by the hub).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from channels.kinds import Selection
from channels.stats import HubStats
from channels.subscriptions import ChannelState, Connection


class Outbox:
    __slots__ = ("_dirty", "_limit", "_on_slow", "_stats")

    def __init__(
        self, *, max_pending_bytes: int, stats: HubStats, on_slow: Callable[[Connection], None]
    ) -> None:
        self._limit = max_pending_bytes
        self._stats = stats
        self._on_slow = on_slow
        self._dirty: list[ChannelState] = []  # channels whose outbox holds frames

    @property
    def pending(self) -> bool:
        return bool(self._dirty)

    def queue(self, state: ChannelState, selection: Selection, frame: bytes) -> None:
        """Queue `frame` for the subscribers of `state` whose filter is `selection`."""
        outbox = state.outbox
        if not outbox:
            if not self._dirty:
                asyncio.get_running_loop().call_soon(self.flush)
            self._dirty.append(state)
        queued = outbox.get(selection)
        if queued is None:
            outbox[selection] = [frame]
        else:
            queued.append(frame)

    def flush(self) -> None:
        """Write every queued frame now: one write per socket carrying all its pending frames.

        Sockets past `max_pending_bytes` are skipped and handed to `on_slow` afterwards.
        """
        dirty, self._dirty = self._dirty, []
        slow: list[Connection] = []
        for state in dirty:
            outbox, state.outbox = state.outbox, {}
            for selection, frames in outbox.items():
                conns = state.groups.get(selection)
                if conns:
                    data = frames[0] if len(frames) == 1 else b"".join(frames)
                    self._write_all(conns, data, len(frames), slow)
        for conn in slow:
            self._on_slow(conn)

    def _write_all(
        self, conns: dict[Connection, None], data: bytes, frames: int, slow: list[Connection]
    ) -> None:
        # The hot loop: no await, no allocation per socket.
        limit = self._limit
        skipped = 0
        for conn in conns:
            transport = conn.transport
            if transport.is_closing():
                skipped += 1
            elif transport.get_write_buffer_size() > limit:
                skipped += 1
                slow.append(conn)
            else:
                transport.write(data)
        self._stats.messages_out += (len(conns) - skipped) * frames
