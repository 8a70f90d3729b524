"""Server WebSocket frames built once and written as-is to every subscriber's transport.

Server-to-client frames are never masked (RFC 6455 5.1), so a frame is just a header and the
payload: the same bytes are valid on every connection. This is what lets the hub serialize an
event once per channel instead of once per socket. Compression is off on /ws for the same
reason (a compressed frame would depend on each connection's deflate state).
"""

from __future__ import annotations

import struct
from typing import Any

import orjson

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
