"""Server WebSocket frames built once and written as-is to every subscriber's transport.

Server-to-client frames are never masked (RFC 6455 5.1), so a frame is just a header and the
payload: the same bytes are valid on every connection. This is what lets the hub serialize an
event once per channel instead of once per socket. Compression is off on /ws for the same
reason (a compressed frame would depend on each connection's deflate state).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from channels.kinds import ChannelKind, FieldFilter, LatestValues, Selection
from channels.protocol import ACCESS_CHANGED

_FIN_TEXT = 0x81


def _header(opcode: int, length: int) -> bytes:
    if length < 126:
        return bytes((opcode, length))
    if length < 1 << 16:
        return struct.pack("!BBH", opcode, 126, length)
    return struct.pack("!BBQ", opcode, 127, length)


def text_frame(payload: bytes) -> bytes:
    """One final, unmasked text frame carrying `payload` (UTF-8 JSON)."""
    return _header(_FIN_TEXT, len(payload)) + payload


def message_frame(message: dict[str, Any]) -> bytes:
    """Serialize a server message and frame it: the only encode step on the fan-out path."""
    return text_frame(orjson.dumps(message))


def filtered_frame(
    channel: str,
    offset: str,
    event: dict[str, Any],
    filter_: FieldFilter | None,
    selection: Selection,
    changed: frozenset[str] | None,
) -> bytes | None:
    """The frame of `event` for subscribers whose `events` filter is `selection`; None when
    they get none (see `FieldFilter.select`)."""
    message = (
        event if filter_ is None or selection is None else filter_.select(event, selection, changed)
    )
    if message is None:
        return None
    return message_frame({**message, "channel": channel, "offset": offset})


def replay_frames(
    channel: str,
    kind: ChannelKind[Any] | None,
    entries: Iterable[tuple[str, bytes]],
    selection: Selection,
) -> Iterator[bytes]:
    """The frames of a replay for one subscriber. A replay has no coalescing; a filter drops
    what did not change within it, as it does live."""
    latest = LatestValues()
    for offset, payload in entries:
        event = orjson.loads(payload)
        if not isinstance(event, dict) or event.get("type") == ACCESS_CHANGED:
            continue  # a control publication, never sent to a client
        filter_ = kind.filter_for(event) if kind else None
        changed = latest.changed(filter_, event) if filter_ else None
        frame = filtered_frame(channel, offset, event, filter_, selection, changed)
        if frame is not None:
            yield frame
