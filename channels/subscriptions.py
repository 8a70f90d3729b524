"""The hub's data model: a socket, its subscriptions, and one channel's local state.

Plain slotted objects: the hub (channels/hub.py) owns every mutation. A socket's memory is its
`Connection` plus one `Subscription` per channel; a channel's is its `ChannelState`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from channels.coalescer import Coalescer
from channels.kinds import ChannelKind, LatestValues, Selection


class Connection:
    """One WebSocket as the hub sees it: where to write, and what it subscribed to."""

    __slots__ = ("closing", "subscriptions", "transport", "ws")

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport) -> None:
        self.ws = ws
        self.transport = transport
        self.subscriptions: dict[str, Subscription] = {}
        self.closing = False


class Subscription:
    __slots__ = ("buffer", "channel", "conn", "selection")

    def __init__(self, conn: Connection, channel: str, selection: Selection) -> None:
        self.conn = conn
        self.channel = channel
        # The fields its `events` filter selected (None = all): subscribers are grouped by it.
        self.selection = selection
        # Live frames that arrive while history is replayed; None once caught up. An entry
        # without an offset (a notice) is always delivered.
        self.buffer: list[tuple[str | None, bytes | None]] | None = []


class ChannelState:
    __slots__ = (
        "access_epoch", "catching_up", "coalescer", "groups", "kind", "last", "latest", "name",
        "outbox", "ready", "size",
    )  # fmt: skip

    def __init__(
        self, name: str, ready: asyncio.Future[None], kind: ChannelKind[Any] | None
    ) -> None:
        self.name = name
        self.ready = ready
        self.kind = kind  # None: a channel no kind registered (fanned out as it is)
        self.groups: dict[Selection, dict[Connection, None]] = {}
        self.catching_up: dict[Connection, Subscription] = {}
        self.coalescer: Coalescer | None = None
        self.size = 0
        # Frames fanned out but not yet written, per filter group (see `Hub.flush`).
        self.outbox: dict[Selection, list[bytes]] = {}
        # The newest offset this node delivered (or told subscribers they stand at).
        self.last: str | None = None
        # Per filterable event type, the latest value of each field fanned out: a filtered
        # subscriber gets a frame only when one of its fields changed (channels/kinds.py).
        self.latest = LatestValues()
        # Access-changed publications (and broker gaps) seen since the state was opened: a
        # subscribe whose authorization check straddles one checks again (see `Hub.subscribe`).
        self.access_epoch = 0
