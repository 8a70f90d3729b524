"""HTTP figures for BENCHMARKS.md: p50/p95/p99 and throughput per main endpoint, and the ratio
of `GET /api/videos` to an empty aiohttp handler measured in the same run.

Layout: this process pins itself, and so every server it starts, to CPU 0. That is one
Streamhub node with its embedded Postgres and Redis, or an empty aiohttp app. The load
generator (loadtests/http_client.py) is a child process pinned to CPU 1. The output gives the
server's CPU use in each phase, to show that the server's core was the bottleneck. Rate limits
stay on (with budgets no run can exhaust), so every /api request pays its Redis round trip,
as in production.

Not a test: never run under pytest. Usage:
    python loadtests/http_bench.py [--seconds 10] [--connections 4,32] [--seed-users 1000]
        [--seed-videos 5000] [--only "GET /api/videos,GET /api/videos?q="]
        [--node-env LIST_CACHE_SECONDS=0] [--out loadtests/reports/http_bench.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devservices.ports import free_port  # noqa: E402
from devservices.stack import Engines, local_engines  # noqa: E402
from loadtests.http_client import (  # noqa: E402
    SERVER_CPU,
    RequestFactory,
    Result,
    http_request,
    measure,
)
from loadtests.run_loadtest import GENEROUS_LIMITS, seed_data, wait_ready  # noqa: E402

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


def start_servers(
    stack: contextlib.ExitStack, args: argparse.Namespace
) -> tuple[int, int, Engines]:
    """Engines, the empty app and one seeded node on CPU 0; their ports (empty, node) and the
    engines' URLs."""
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
           "LOG_LEVEL": "WARNING", **GENEROUS_LIMITS, **dict(args.node_env)}  # fmt: skip
    node = stack.enter_context(process([sys.executable, "run.py"], env))
    wait_ready(port, node)
    seed_data(engines.database_url, args.seed_users, args.seed_videos, args.out.parent)
    return empty_port, port, engines


def run(args: argparse.Namespace) -> dict[str, Any]:
    os.sched_setaffinity(0, {SERVER_CPU})  # inherited by every server started below
    levels = [int(c) for c in str(args.connections).split(",")]
    results: list[Result] = []
    ratios: dict[int, dict[str, float]] = {}
    with contextlib.ExitStack() as stack:
        empty_port, port, _ = start_servers(stack, args)
        seed = json.loads((args.out.parent / "seed.json").read_text())
        for connections in levels:
            # Fresh sessions per level: refresh tokens rotated in the last level's client
            # process are spent, and reusing one would revoke its family.
            phases = [p for p in endpoint_phases(port, seed, connections)
                      if not args.only or p[0] in args.only]  # fmt: skip
            # The empty handler right before GET /api/videos, at the same concurrency, so the
            # ratio compares two measurements taken under the same conditions.
            empty = measure("empty aiohttp handler", empty_port,
                            lambda i, n, _: b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", args,
                            connections)  # fmt: skip
            results.append(empty)
            for name, make, ok in phases:
                results.append(measure(name, port, make, args, connections, ok=ok))
                if name == "GET /api/videos":
                    ratios[connections] = ratio(results[-1], empty)
    return {
        "results": [r.__dict__ for r in results],
        "videos_to_empty_ratio": ratios,
        "args": {k: str(v) for k, v in vars(args).items()},
    }


def ratio(videos: Result, empty: Result) -> dict[str, float]:
    """Raw: both throughputs as measured. Per core-second: each divided by how busy the
    server's core was, which removes the load generator's ceiling (it can saturate CPU 1
    before the empty handler saturates CPU 0)."""
    return {
        "raw": videos.rps / empty.rps,
        "per_server_core_second": (videos.rps / videos.server_core)
        / (empty.rps / empty.server_core),
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
    parser.add_argument(
        "--only",
        type=lambda v: [name.strip() for name in v.split(",") if name.strip()],
        default=[],
        help="comma-separated phase names to measure (the empty handler always is)",
    )
    parser.add_argument(
        "--node-env",
        type=lambda v: tuple(v.split("=", 1)),
        action="append",
        default=[],
        help="KEY=VALUE set in the node's environment, e.g. LIST_CACHE_SECONDS=0; repeatable",
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
