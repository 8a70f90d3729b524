"""Internal channels: node-to-node notices carried by the broker, never by a socket.

A channel named `internal:*` is for the nodes themselves (e.g. a domain's "something changed,
clear your cache"; the domain names the channel). Each node subscribes upstream to its registered
internal channels when it starts, on the broker's one pub/sub connection, and the broker's
listener routes their publications to callbacks before the hub sees anything: they never
reach the hub's channel map, a fan-out or a socket. Clients cannot subscribe to them either:
no channel kind may take the `internal` prefix (channels/kinds.py), so they answer
`unknown_channel`.

Guarantees: a callback runs once per publication this node receives on its channel (at most
once, like every publication), and once more after each broker gap, when publications may
have been missed. So a notice is a signal, not data: the callback must be safe to run
spuriously, and the payload is ignored. A callback that raises is logged and does not stop
delivery. Publishing stores the notice in the channel's bounded history like any other
publication (`HISTORY_SIZE`, expiring with `HISTORY_TTL_SECONDS`); nothing reads it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from channels.broker import Broker, GapListener, Listener

log = logging.getLogger("streamhub.channels.internal")

PREFIX = "internal:"

Notice = Callable[[], None]


def is_internal(channel: str) -> bool:
    return channel.startswith(PREFIX)


class InternalChannels:
    """Routes `internal:*` publications and gaps to callbacks, and the rest to `deliver`."""

    def __init__(self, *, deliver: Listener, on_gap: GapListener) -> None:
        self._deliver = deliver
        self._on_gap = on_gap
        self._callbacks: dict[str, Notice] = {}

    def register(self, channel: str, callback: Notice) -> None:
        """Call `callback` on each notice on `channel`; register before `subscribe_all`."""
        if not is_internal(channel):
            raise ValueError(f"internal channels start with {PREFIX!r}: {channel!r}")
        self._callbacks[channel] = callback

    async def subscribe_all(self, broker: Broker) -> None:
        for channel in self._callbacks:
            await broker.subscribe(channel)

    def deliver(self, channel: str, offset: str, payload: bytes) -> None:
        """The broker's listener: one prefix check per publication, then the hub as before."""
        if not channel.startswith(PREFIX):
            self._deliver(channel, offset, payload)
            return
        callback = self._callbacks.get(channel)
        if callback is not None:
            self._notify(channel, callback)

    def missed(self) -> None:
        """The broker's gap listener: any notice may have been lost, so act as if one came."""
        for channel, callback in self._callbacks.items():
            self._notify(channel, callback)
        self._on_gap()

    @staticmethod
    def _notify(channel: str, callback: Notice) -> None:
        try:
            callback()
        except Exception:  # one failing callback must not stop the broker's delivery
            log.exception("internal notice failed", extra={"channel": channel})
