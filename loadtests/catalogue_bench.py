"""OnStream catalogue figures for BENCHMARKS.md (issue 11, item 8).

1. `GET /api/movies/{id}` and `GET /api/search?q=` answered from a warm cache: p50/p95/p99 and
   throughput at 32 connections, each as a ratio to the empty aiohttp handler measured in the
   same run, right before, on the same core (loadtests/http_bench.py's layout: servers on
   CPU 0, the load generator on CPU 1).
2. Upstream calls per 1,000 client requests under a Zipf-distributed mix of titles (details,
   and searches for title words), counted by the upstream itself: once from an empty cache
   (cold) and once more right after, with the cache as the first phase left it (warm).

The upstream is the local TMDb + Consumet fake of the tests (tests/fake_upstreams.py) with
`--titles` movies, in its own process on CPU 1 (it only works on misses). Rate limits are on,
with budgets no run exhausts, so every request pays its rate-limit round trip as in
production. Cache warming is off (`CATALOGUE_WARM_INTERVAL_SECONDS=0`): its calls are not
caused by client requests, and the mix asks for titles and searches, which it does not warm.

Not a test: never run under pytest. Usage:
    python loadtests/catalogue_bench.py [--seconds 10] [--connections 32] [--titles 20000]
        [--zipf 1.1] [--mix-seconds 20] [--node-env KEY=VALUE]
        [--out loadtests/reports/catalogue_bench.json]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import secrets
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devservices.ports import free_port  # noqa: E402
from devservices.stack import local_engines  # noqa: E402
from loadtests.http_bench import EMPTY_APP, process, ratio, wait_port  # noqa: E402
from loadtests.http_client import SERVER_CPU, Result, http_request, measure  # noqa: E402
from loadtests.run_loadtest import GENEROUS_LIMITS, wait_ready  # noqa: E402

FAKE = """
import os, sys
from aiohttp import web
from tests.fake_upstreams import FakeUpstreams
os.sched_setaffinity(0, {1})
fake = FakeUpstreams(movies=int(sys.argv[2]), shows=100)
web.run_app(fake.app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""
API_KEY = "0123456789abcdef0123456789abcdef"  # the fake's key
HOT_TITLES = 500  # phase 1 cycles over these (all cached first)
QUERIES = 200  # distinct search words ("movie 1" .. "movie 200")


def empty_request(i: int, n: int, last: bytes | None) -> bytes:
    return b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def get(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=60) as resp:
        return json.loads(resp.read())


def upstream_calls(fake_port: int) -> int:
    return sum(get(fake_port, "/_calls").values())


def start(stack: contextlib.ExitStack, args: argparse.Namespace) -> tuple[int, int, int, str]:
    """Engines, the fake upstream, the empty app and one node; their ports, and Redis' URL."""
    var_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="streamhub-cb-")))
    engines = stack.enter_context(local_engines(var_dir, None, None))
    fake_port, empty_port, port = free_port(), free_port(), free_port()
    env = dict(os.environ)
    stack.enter_context(
        process([sys.executable, "-c", FAKE, str(fake_port), str(args.titles)], env)
    )
    stack.enter_context(process([sys.executable, "-c", EMPTY_APP, str(empty_port)], env))
    wait_port(fake_port)
    wait_port(empty_port)
    node_env = {
        **env, "APP_ENV": "development", "HOST": "127.0.0.1", "PORT": str(port),
        "VAR_DIR": str(var_dir), "DATABASE_URL": engines.database_url,
        "REDIS_URL": engines.redis_url, "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "LOG_LEVEL": "WARNING", **GENEROUS_LIMITS, "RATE_LIMIT_CATALOGUE": "1000000/minute",
        "TMDB_API_KEY": API_KEY, "TMDB_BASE_URL": f"http://127.0.0.1:{fake_port}",
        "CONSUMET_API_BASE": f"http://127.0.0.1:{fake_port}",
        "CATALOGUE_WARM_INTERVAL_SECONDS": "0", "TMDB_REQUESTS_PER_SECOND": "1000",
        **dict(args.node_env),
    }  # fmt: skip
    node = stack.enter_context(process([sys.executable, "run.py"], node_env))
    wait_ready(port, node)
    return fake_port, empty_port, port, engines.redis_url


def zipf_sequence(n: int, exponent: float, length: int, seed: int) -> list[int]:
    """`length` ranks in 1..n drawn with P(rank k) proportional to 1/k^exponent."""
    weights = [1 / k**exponent for k in range(1, n + 1)]
    cumulative = list(itertools.accumulate(weights))
    return random.Random(seed).choices(range(1, n + 1), cum_weights=cumulative, k=length)


def mix_key(k: int, args: argparse.Namespace, titles: list[int], queries: list[int]) -> str:
    """Request number `k` of the mix: one search per `search_every`, else a title."""
    if k % args.search_every == 0:
        return f"/api/search?q=movie%20{queries[k % len(queries)]}"
    return f"/api/movies/{titles[k % len(titles)]}"


def mix_phase(name: str, port: int, fake_port: int, args: argparse.Namespace,
              titles: list[int], queries: list[int], seen: set[str]) -> dict[str, Any]:  # fmt: skip
    """The Zipf mix for `mix_seconds`: upstream calls it caused per 1,000 requests, and
    about how many distinct keys not in `seen` it asked for (every connection sends about as
    many requests, so request numbers 0..R-1 are about the ones sent). `seen` is updated."""

    def make(i: int, n: int, _: bytes | None) -> bytes:
        return http_request("GET", mix_key(n * args.connections + i, args, titles, queries))

    before = upstream_calls(fake_port)
    mix_args = argparse.Namespace(**{**vars(args), "seconds": args.mix_seconds, "warmup": 0.0})
    result = measure(name, port, make, mix_args, args.connections)
    calls = upstream_calls(fake_port) - before
    asked = {mix_key(k, args, titles, queries) for k in range(result.requests)}
    new_keys = len(asked - seen)
    seen |= asked
    return {"result": result.__dict__, "upstream_calls": calls, "new_keys_about": new_keys,
            "per_1000_requests": 1000 * calls / max(1, result.requests)}  # fmt: skip


def run(args: argparse.Namespace) -> dict[str, Any]:
    os.sched_setaffinity(0, {SERVER_CPU})  # inherited by the node and engines
    with contextlib.ExitStack() as stack:
        fake_port, empty_port, port, redis_url = start(stack, args)
        for title in range(1, HOT_TITLES + 1):  # phase 1 reads from a warm cache
            get(port, f"/api/movies/{title}")
        for q in range(1, QUERIES + 1):
            get(port, f"/api/search?q=movie%20{q}")
        c = args.connections
        results: list[Result] = []
        ratios: dict[str, dict[str, float]] = {}
        for name, make in (
            ("GET /api/movies/{id}", lambda i, n, _: http_request(
                "GET", f"/api/movies/{(n * c + i) % HOT_TITLES + 1}")),
            ("GET /api/search?q=", lambda i, n, _: http_request(
                "GET", f"/api/search?q=movie%20{(n * c + i) % QUERIES + 1}")),
        ):  # fmt: skip
            empty = measure("empty aiohttp handler", empty_port, empty_request, args, c)
            measured = measure(name, port, make, args, c, ok=(200,))
            results += [empty, measured]
            ratios[name] = ratio(measured, empty)
            # On a shared machine other processes take CPU 0 too: the throughput per CPU
            # second the server processes themselves used compares the code, not the neighbours.
            ratios[name]["per_app_cpu_second"] = (measured.rps / measured.app_cpu) / (
                empty.rps / empty.app_cpu
            )
        # Phase 2: an empty cache, then the Zipf mix twice.
        flush_catalogue(redis_url)
        titles = zipf_sequence(args.titles, args.zipf, 500_000, seed=1)
        queries = zipf_sequence(QUERIES * 5, args.zipf, 50_000, seed=2)
        seen: set[str] = set()
        cold = mix_phase("Zipf mix, cold cache", port, fake_port, args, titles, queries, seen)
        warm = mix_phase(
            "Zipf mix, warm cache", port, fake_port, args, titles[::-1], queries[::-1], seen
        )
    return {
        "results": [r.__dict__ for r in results],
        "ratios_to_empty": ratios,
        "zipf": {"cold": cold, "warm": warm},
        "args": {k: str(v) for k, v in vars(args).items()},
    }


def flush_catalogue(redis_url: str) -> None:
    """Delete every catalogue entry (and its counters) in Redis, as an admin's cache clear
    would (without needing an admin account)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    names = list(client.scan_iter(match="catalogue:*", count=1000))
    for start_at in range(0, len(names), 1000):
        client.unlink(*names[start_at : start_at + 1000])
    client.close()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--titles", type=int, default=20_000)
    parser.add_argument("--zipf", type=float, default=1.1, help="Zipf exponent of the mix")
    parser.add_argument("--search-every", type=int, default=10, help="one search per N requests")
    parser.add_argument("--mix-seconds", type=float, default=20)
    parser.add_argument(
        "--node-env",
        type=lambda v: tuple(v.split("=", 1)),
        action="append",
        default=[],
        help="KEY=VALUE for the node, e.g. RATE_LIMIT_ENABLED=false; repeatable",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "loadtests/reports/catalogue_bench.json")
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
    for name, value in report["ratios_to_empty"].items():
        raw, per_core = value["raw"], value["per_server_core_second"]
        print(f"{name} / empty handler at {args.connections} connections: raw {raw:.3f}, "
              f"per server core-second {per_core:.3f}, "
              f"per app CPU-second {value['per_app_cpu_second']:.3f}")  # fmt: skip
    for phase, value in report["zipf"].items():
        calls, requests = value["upstream_calls"], value["result"]["requests"]
        print(f"Zipf mix ({phase}): {calls} upstream calls for {requests} requests = "
              f"{value['per_1000_requests']:.2f} per 1,000; about {value['new_keys_about']} "
              "titles and searches not asked before")  # fmt: skip
    args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
