"""The fan-out benchmark's WebSocket client: raw asyncio sockets, as cheap per frame as we can.

The client shares one core with everything else on the load side, so its per-socket cost caps
what it can measure. Each socket is an `asyncio.BufferedProtocol` that receives into one shared
scratch buffer (`recv_into`): asyncio's default `recv(256 KiB)` allocated a fresh 256 KiB
object for every read, and that allocation was most of the client's time. Frames are parsed
straight out of the bytes; the receipt time is taken once per read, before any parsing, so
latency figures do not include the client's own parsing of the frames ahead in that read.
Bounded: one scratch buffer, a partial frame per socket, `MAX_SEQ` counters.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from dataclasses import dataclass, field

import orjson

CONNECT_CONCURRENCY = 200
MAX_SEQ = 2_000_000
SEQ_PREFIX = b'{"seq":'

# Data is parsed synchronously in buffer_updated, so every socket may share one buffer.
_SCRATCH = bytearray(256 * 1024)
_SCRATCH_VIEW = memoryview(_SCRATCH)


@dataclass
class Tally:
    """Counters shared by every subscriber of a run (one event loop, no locks)."""

    subscribers: int = 0
    received: int = 0
    completed: int = 0  # publications every subscriber has received
    lost: int = 0
    out_of_order: int = 0
    record_latency: bool = False
    latencies_ns: list[int] = field(default_factory=list)
    counts: list[int] = field(default_factory=lambda: [0] * MAX_SEQ)
    progress: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_complete(self, seq: int, timeout_s: float) -> bool:
        """Until every subscriber got `seq` (False on timeout: something was lost)."""
        deadline = time.monotonic() + timeout_s
        while self.counts[seq] < self.subscribers:
            self.progress.clear()
            try:
                await asyncio.wait_for(self.progress.wait(), deadline - time.monotonic())
            except TimeoutError:
                return False
        return True


def client_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """A masked client frame (RFC 6455 requires masking from clients)."""
    mask = os.urandom(4)
    n = len(payload)
    header = (
        bytes([0x80 | opcode, 0x80 | n])
        if n < 126
        else bytes([0x80 | opcode, 0xFE]) + n.to_bytes(2, "big")
    )
    key = (mask * (n // 4 + 1))[:n]
    masked = (
        (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")
        if n
        else b""
    )
    return header + mask + masked


class Subscriber(asyncio.BufferedProtocol):
    """One raw WebSocket: HTTP upgrade, then frames parsed straight out of the byte stream."""

    def __init__(self, tally: Tally, host: str, subscribe: bytes | None) -> None:
        self.tally = tally
        self.host = host
        self.subscribe = subscribe
        self.upgraded = False
        self.buf = b""  # a partial frame left from the previous read
        self.expected = 0
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(  # type: ignore[attr-defined]
            f"GET /ws HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed during setup"))

    def get_buffer(self, sizehint: int) -> memoryview:
        return _SCRATCH_VIEW

    def buffer_updated(self, nbytes: int) -> None:
        now = time.monotonic_ns()
        if self.buf:
            buf: bytes | bytearray = self.buf + _SCRATCH[:nbytes]
            n = len(buf)
        else:
            buf, n = _SCRATCH, nbytes
        pos = 0
        if not self.upgraded:
            pos = self.upgrade(buf, n)
            if pos < 0:
                return
        pos = self.frames(buf, pos, n, now)
        self.buf = bytes(buf[pos:n])

    def upgrade(self, buf: bytes | bytearray, n: int) -> int:
        """Where frames start after the 101 response, or -1 (kept for the next read)."""
        end = buf.find(b"\r\n\r\n", 0, n)
        if end < 0:
            self.buf = bytes(buf[:n])
            return -1
        if not buf.startswith(b"HTTP/1.1 101"):
            self.ready.set_exception(ConnectionError(bytes(buf[:200]).decode(errors="replace")))
            self.buf = b""
            return -1
        self.upgraded = True
        if self.subscribe is None:
            self.ready.set_result(None)
        return end + 4

    def frames(self, buf: bytes | bytearray, pos: int, n: int, now: int) -> int:
        """Handle every whole frame in `buf[pos:n]`; return where the partial one starts."""
        while n - pos >= 2:
            length = buf[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if n - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                head = 4
            elif length == 127:
                if n - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            end = pos + head + length
            if end > n:
                break
            opcode = buf[pos] & 0x0F
            if opcode == 0x1:
                if buf.startswith(SEQ_PREFIX, pos + head, end):
                    self.on_event(buf, pos + head, now)
                else:
                    self.on_message(orjson.loads(buf[pos + head : end]))
            elif opcode == 0x9 and self.transport is not None:
                self.transport.write(client_frame(bytes(buf[pos + head : end]), 0xA))
            pos = end
        return pos

    def on_event(self, buf: bytes | bytearray, start: int, now: int) -> None:
        comma = buf.index(b",", start + 7)
        seq = int(buf[start + 7 : comma])
        tally = self.tally
        if tally.record_latency:
            sent = int(buf[comma + 5 : buf.index(b",", comma + 5)])
            tally.latencies_ns.append(now - sent)
        tally.received += 1
        if seq == self.expected:
            self.expected = seq + 1
        elif seq > self.expected:
            tally.lost += seq - self.expected
            self.expected = seq + 1
        else:
            tally.out_of_order += 1
        count = tally.counts[seq] = tally.counts[seq] + 1
        if count == tally.subscribers:
            tally.completed += 1
            tally.progress.set()

    def on_message(self, message: dict[str, object]) -> None:
        kind = message["type"]
        if kind == "connected" and self.transport is not None and self.subscribe:
            self.transport.write(client_frame(self.subscribe))
        elif kind == "subscribed" and not self.ready.done():
            self.ready.set_result(None)
        elif kind == "error" and not self.ready.done():
            self.ready.set_exception(RuntimeError(message))


async def connect_all(
    tally: Tally, ports: list[int], n: int, channel: str | None
) -> list[Subscriber]:
    """Open `n` sockets spread over `ports` (and subscribe each to `channel`, if given)."""
    loop = asyncio.get_running_loop()
    subscribe = orjson.dumps({"type": "subscribe", "channel": channel}) if channel else None
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one(i: int) -> Subscriber:
        port = ports[i % len(ports)]
        async with gate:
            _, sub = await loop.create_connection(
                lambda: Subscriber(tally, f"127.0.0.1:{port}", subscribe), "127.0.0.1", port
            )
            await asyncio.wait_for(sub.ready, 30)
            return sub

    subs = await asyncio.gather(*(one(i) for i in range(n)))
    tally.subscribers = n
    return list(subs)


def settle(tally: Tally, subs: list[Subscriber], next_seq: int) -> None:
    """Whatever a subscriber never received by the end of a phase counts as lost."""
    for sub in subs:
        if sub.expected < next_seq:
            tally.lost += next_seq - sub.expected
            sub.expected = next_seq


def close_all(subs: list[Subscriber]) -> None:
    for sub in subs:
        if sub.transport is not None:
            sub.transport.close()
