"""HTTP figures for BENCHMARKS.md: p50/p95/p99 and throughput per main endpoint, and the ratio
of `GET /api/videos` to an empty aiohttp handler measured in the same run.

Layout: this process pins itself, and so every server it starts, to CPU 0. That is one
Streamhub node with its embedded Postgres and Redis, or an empty aiohttp app. The load
generator is a child process pinned to CPU 1. The client is a minimal HTTP/1.1 keep-alive
client on asyncio protocols. It is closed loop: each of C connections sends its next request
when the previous answer is complete. It is several times cheaper per request than aiohttp's
client, so the server's core is the bottleneck. The output gives the server's CPU use in each
phase to show it. Rate limits stay on (with budgets no run can exhaust), so every /api
request pays its Redis round trip, as in production.

Not a test: never run under pytest. Usage:
    python loadtests/http_bench.py [--seconds 10] [--connections 16] [--seed-users 1000]
        [--seed-videos 5000] [--out loadtests/reports/http_bench.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devservices.ports import free_port  # noqa: E402
from devservices.stack import local_engines  # noqa: E402
from loadtests.run_loadtest import GENEROUS_LIMITS, seed_data, wait_ready  # noqa: E402

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


# --- servers ----------------------------------------------------------------------------------

EMPTY_APP = """
import sys
from aiohttp import web
async def empty(request):
    return web.Response(text="ok")
app = web.Application()
app.router.add_get("/", empty)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


@contextlib.contextmanager
def process(command: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def post_json(port: int, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"}, method="POST",
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as resp:
        loaded: dict[str, Any] = json.loads(resp.read())
        return loaded


def run(args: argparse.Namespace) -> dict[str, Any]:
    os.sched_setaffinity(0, {SERVER_CPU})  # inherited by every server started below
    levels = [int(c) for c in str(args.connections).split(",")]
    results: list[Result] = []
    ratios: dict[int, dict[str, float]] = {}
    with contextlib.ExitStack() as stack:
        var_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="streamhub-hb-")))
        engines = stack.enter_context(local_engines(var_dir, None, None))
        # The empty app stays up, idle, while the node is measured, and the node while it is.
        empty_port = free_port()
        stack.enter_context(
            process([sys.executable, "-c", EMPTY_APP, str(empty_port)], dict(os.environ))
        )
        wait_port(empty_port)
        port = free_port()
        env = {**os.environ, "APP_ENV": "development", "HOST": "127.0.0.1", "PORT": str(port),
               "VAR_DIR": str(var_dir), "DATABASE_URL": engines.database_url,
               "REDIS_URL": engines.redis_url, "JWT_SECRET_KEY": secrets.token_urlsafe(48),
               "LOG_LEVEL": "WARNING", **GENEROUS_LIMITS}  # fmt: skip
        node = stack.enter_context(process([sys.executable, "run.py"], env))
        wait_ready(port, node)
        seed_file = seed_data(engines.database_url, args.seed_users, args.seed_videos,
                              args.out.parent)  # fmt: skip
        seed = json.loads(seed_file.read_text())
        for connections in levels:
            # Fresh sessions per level: refresh tokens rotated in the last level's client
            # process are spent, and reusing one would revoke its family.
            phases = endpoint_phases(port, seed, connections)
            # The empty handler right before GET /api/videos, at the same concurrency, so the
            # ratio compares two measurements taken under the same conditions.
            empty = measure("empty aiohttp handler", empty_port,
                            lambda i, n, _: b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", args,
                            connections)  # fmt: skip
            results.append(empty)
            for name, make, ok in phases:
                results.append(measure(name, port, make, args, connections, ok=ok))
                if name == "GET /api/videos":
                    videos = results[-1]
                    # Raw: both throughputs as measured. Per core-second: each divided by how
                    # busy the server's core was, which removes the load generator's ceiling
                    # (it saturates CPU 1 before the empty handler saturates CPU 0).
                    ratios[connections] = {
                        "raw": videos.rps / empty.rps,
                        "per_server_core_second": (videos.rps / videos.server_core)
                        / (empty.rps / empty.server_core),
                    }
    return {
        "results": [r.__dict__ for r in results],
        "videos_to_empty_ratio": ratios,
        "args": {k: str(v) for k, v in vars(args).items()},
    }


def wait_port(port: int, timeout: float = 30) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"port {port} not open")


Phase = tuple[str, RequestFactory, tuple[int, ...]]


def endpoint_phases(port: int, seed: dict[str, Any], connections: int) -> list[Phase]:
    # One signed-in user per connection (likes and follows are per user).
    sessions = [
        post_json(port, "/api/auth/login",
                  {"login": seed["usernames"][i + 1], "password": seed["password"]})["tokens"]
        for i in range(connections)
    ]  # fmt: skip
    tokens = [s["access_token"] for s in sessions]
    refresh = [s["refresh_token"] for s in sessions]
    videos = seed["video_ids"]
    # The followed account is seed user 0, never one of the connections' own users (following
    # oneself is a 400 that would answer fast and flatter the figure).
    creator = post_json(
        port, "/api/auth/login", {"login": seed["usernames"][0], "password": seed["password"]}
    )["user"]["id"]

    def rotating_refresh(i: int, n: int, last: bytes | None) -> bytes:
        # Refresh tokens rotate: each request carries the token the previous answer gave.
        if last:
            refresh[i] = json.loads(last).get("refresh_token", refresh[i])
        return http_request("POST", "/api/auth/refresh", body={"refresh_token": refresh[i]})

    return [
        ("GET /api/videos", lambda i, n, _: http_request("GET", "/api/videos?limit=20"), (200,)),
        ("GET /api/videos?q=", lambda i, n, _: http_request(
            "GET", f"/api/videos?q={('guide', 'secret', 'epic', 'live')[n % 4]}"), (200,)),
        ("GET /api/videos/{id}", lambda i, n, _: http_request(
            "GET", f"/api/videos/{videos[n % 50]}", token=tokens[i]), (200,)),
        ("POST /api/videos/{id}/view", lambda i, n, _: http_request(
            "POST", f"/api/videos/{videos[n % 50]}/view", token=tokens[i],
            body={"watch_time_seconds": 30}), (200,)),
        ("POST /api/videos/{id}/like", lambda i, n, _: http_request(
            "POST", f"/api/videos/{videos[n % 50]}/like", token=tokens[i],
            body={"action": ("like", "remove")[(n // 50) % 2]}), (200,)),
        ("GET /api/videos/{id}/comments", lambda i, n, _: http_request(
            "GET", f"/api/videos/{videos[n % 50]}/comments?limit=20"), (200,)),
        ("POST /api/videos/{id}/comments", lambda i, n, _: http_request(
            "POST", f"/api/videos/{videos[n % 50]}/comments", token=tokens[i],
            body={"content": f"bench comment {n}"}), (201,)),
        ("POST+DELETE /api/users/{id}/follow", lambda i, n, _: http_request(
            ("POST", "DELETE")[n % 2], f"/api/users/{creator}/follow", token=tokens[i]),
            (200, 201)),
        ("GET /api/auth/me", lambda i, n, _: http_request("GET", "/api/auth/me", token=tokens[i]),
         (200,)),
        ("POST /api/auth/login (Argon2)", lambda i, n, _: http_request(
            "POST", "/api/auth/login",
            body={"login": seed["usernames"][i + 1], "password": seed["password"]}), (200,)),
        ("POST /api/auth/refresh", rotating_refresh, (200,)),
        ("GET /healthz", lambda i, n, _: http_request("GET", "/healthz"), (200,)),
    ]  # fmt: skip


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument(
        "--connections",
        default="4,32",
        help="comma-separated concurrency levels, each measured in turn",
    )
    parser.add_argument("--seed-users", type=int, default=1000)
    parser.add_argument("--seed-videos", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=ROOT / "loadtests/reports/http_bench.json")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    print(f"load before: {Path('/proc/loadavg').read_text().strip()}", flush=True)
    print("| endpoint | conns | req/s | p50 ms | p95 ms | p99 ms | errors | app CPU "
          "| CPU 0 busy | CPU 1 busy |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|", flush=True)
    report = run(args)
    print(f"load after: {Path('/proc/loadavg').read_text().strip()}")
    for connections, ratio in report["videos_to_empty_ratio"].items():
        print(f"GET /api/videos / empty handler throughput at {connections} connections: "
              f"raw {ratio['raw']:.4f}, per server core-second "
              f"{ratio['per_server_core_second']:.4f}")  # fmt: skip
    args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
