"""The load generator and the measurements of loadtests/http_bench.py.

The client is a minimal HTTP/1.1 keep-alive client on asyncio protocols, run in a child
process pinned to CLIENT_CPU. It is closed loop: each of C connections sends its next request
when the previous answer is complete. It is several times cheaper per request than aiohttp's
client, so the server's core is the bottleneck. `measure` also reads how busy each core and
the server's processes were during the phase, from /proc.

Not a test: never run under pytest.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVER_CPU, CLIENT_CPU = 0, 1
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Builds the request for (connection index, request number, previous answer's body on this
# connection or None): bytes sent as they are.
RequestFactory = Callable[[int, int, bytes | None], bytes]


def http_request(method: str, path: str, *, token: str | None = None,
                 body: dict[str, Any] | None = None) -> bytes:  # fmt: skip
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: keep-alive"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    payload = json.dumps(body).encode() if body is not None else b""
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


# --- the load generator (runs in the child process on CLIENT_CPU) ----------------------------


class _Client(asyncio.Protocol):
    """One keep-alive connection; `send` resolves with (status, body) once the body is in."""

    def __init__(self) -> None:
        self.buffer = b""
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buffer[:end].decode("latin-1")
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
        if len(self.buffer) < end + 4 + length:
            return
        body = self.buffer[end + 4 : end + 4 + length]
        self.buffer = self.buffer[end + 4 + length :]
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((int(head.split(" ", 2)[1]), body))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("closed"))

    async def send(self, request: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.waiter


async def _drive(port: int, make: RequestFactory, connections: int, warmup: float,
                 seconds: float) -> dict[str, Any]:  # fmt: skip
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    start = loop.time() + warmup
    stop = start + seconds

    async def one(index: int) -> None:
        _, client = await loop.create_connection(_Client, "127.0.0.1", port)
        n, body = 0, None
        while (now := loop.time()) < stop:
            began = time.perf_counter()
            status, body = await client.send(make(index, n, body))
            n += 1
            if now >= start:
                latencies.append(time.perf_counter() - began)
                statuses[status] = statuses.get(status, 0) + 1
        assert client.transport is not None
        client.transport.close()

    await asyncio.gather(*(one(i) for i in range(connections)))
    return {"latencies": latencies, "statuses": statuses, "seconds": seconds}


def _client_main(conn: Any, port: int, make: RequestFactory, connections: int,
                 warmup: float, seconds: float) -> None:  # fmt: skip
    os.sched_setaffinity(0, {CLIENT_CPU})
    conn.send(asyncio.run(_drive(port, make, connections, warmup, seconds)))
    conn.close()


# --- measurement ------------------------------------------------------------------------------


def core_ticks(cpu: int) -> tuple[int, int]:
    """(busy, total) jiffies of one core since boot, from /proc/stat."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{cpu} "):
            values = [int(v) for v in line.split()[1:]]
            idle = values[3] + values[4]  # idle + iowait
            return sum(values) - idle, sum(values)
    raise RuntimeError(f"no cpu{cpu} in /proc/stat")


def core_busy(before: tuple[int, int], after: tuple[int, int]) -> float:
    return (after[0] - before[0]) / max(1, after[1] - before[1])


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


def server_pids(root: int) -> list[int]:
    """The node and its descendants, plus embedded Postgres/Redis (children of this process)."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    children: dict[int, list[int]] = {}
    for line in out.splitlines():
        pid, ppid = (int(x) for x in line.split())
        children.setdefault(ppid, []).append(pid)
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


@dataclass
class Result:
    name: str
    connections: int
    requests: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    app_cpu: float  # share of a core used by the app process (and children it did not detach)
    server_core: float  # how busy CPU 0 was: app, Postgres, Redis, and anything else there
    client_core: float  # how busy CPU 1 was: the load generator and anything else there

    def row(self) -> str:
        return (f"| {self.name} | {self.connections} | {self.rps:,.0f} | {self.p50_ms:.2f} | "
                f"{self.p95_ms:.2f} | {self.p99_ms:.2f} | {self.errors} | "
                f"{self.app_cpu:.0%} | {self.server_core:.0%} | "
                f"{self.client_core:.0%} |")  # fmt: skip


def measure(name: str, port: int, make: RequestFactory, args: argparse.Namespace,
            connections: int, *, ok: tuple[int, ...] = (200, 201)) -> Result:  # fmt: skip
    parent, child = multiprocessing.Pipe()
    proc = multiprocessing.Process(
        target=_client_main, args=(child, port, make, connections, args.warmup, args.seconds)
    )
    proc.start()
    time.sleep(args.warmup)
    # The server side: every process this one started (node, Postgres backends, Redis, or the
    # empty app), less the load generator.
    assert proc.pid is not None
    client = set(server_pids(proc.pid))
    watch = [pid for pid in server_pids(os.getpid()) if pid != os.getpid() and pid not in client]
    cpu_before, wall_before = cpu_seconds(watch), time.monotonic()
    cores_before = core_ticks(SERVER_CPU), core_ticks(CLIENT_CPU)
    data = parent.recv()
    cpu = (cpu_seconds(watch) - cpu_before) / (time.monotonic() - wall_before)
    server_core = core_busy(cores_before[0], core_ticks(SERVER_CPU))
    client_core = core_busy(cores_before[1], core_ticks(CLIENT_CPU))
    proc.join()
    lat = sorted(data["latencies"])
    q = statistics.quantiles(lat, n=100, method="inclusive")
    errors = sum(count for status, count in data["statuses"].items() if status not in ok)
    result = Result(name, connections, len(lat), len(lat) / data["seconds"], q[49] * 1000,
                    q[94] * 1000, q[98] * 1000, errors, cpu, server_core,
                    client_core)  # fmt: skip
    print(result.row(), flush=True)
    return result
