"""The torrent index under load (issue 12's benchmark): ingest throughput through POST /api/ingest,
search latency for common, rare and misspelled words over a seeded index, and `latest` and
detail as a ratio to an empty aiohttp handler, all in one run (loadtests/http_bench.py's
layout: servers on CPU 0, the load generator on CPU 1).

Not a test: never run under pytest. Usage:
    python loadtests/torrents_bench.py [--torrents 1000000] [--seconds 10] [--batch 1000]
        [--out loadtests/reports/torrents_bench.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from loadtests.courses_bench import post_json_auth  # noqa: E402
from loadtests.http_bench import parse_args as http_args  # noqa: E402
from loadtests.http_bench import post_json, start_servers  # noqa: E402
from loadtests.http_client import SERVER_CPU, Result, http_request, measure  # noqa: E402
from storage import seed_torrents  # noqa: E402

COMMON = seed_torrents.VOCABULARY[0]
RARE = seed_torrents.VOCABULARY[-1]
MIDDLE = seed_torrents.VOCABULARY[60]
MISSPELLED = MIDDLE[:1] + MIDDLE[2] + MIDDLE[1] + MIDDLE[3:]  # two letters swapped


def ingest_request(key: str, batch: int) -> Any:
    seen = datetime.now(UTC).isoformat()

    def make(i: int, n: int, _last: bytes | None) -> bytes:
        torrents = []
        for k in range(batch):
            tag = f"bench-{os.getpid()}-{i}-{n}-{k}"
            name = f"Bench.Ingest.{i}.{n}.{k}.1080p"
            torrents.append({
                "info_hash": hashlib.sha1(tag.encode()).hexdigest(), "name": name,
                "size": 2000, "category": "movies", "seeders": k % 50, "leechers": 1,
                "seen_at": seen, "trackers": ["udp://tracker.example.org:1337/announce"],
                "files": [{"path": f"{name}/a.mkv", "size": 1500},
                          {"path": f"{name}/b.srt", "size": 500}],
            })  # fmt: skip
        raw = http_request("POST", "/api/ingest", body={"torrents": torrents})
        return raw.replace(b"\r\n\r\n", f"\r\nX-API-Key: {key}\r\n\r\n".encode(), 1)

    return make


async def promote(database_url: str, username: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE users SET role = 'admin' WHERE username = $1", username)
    finally:
        await conn.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    os.sched_setaffinity(0, {SERVER_CPU})
    results: list[Result] = []
    with contextlib.ExitStack() as stack:
        empty_port, port, engines = start_servers(stack, args)
        started = time.perf_counter()
        asyncio.run(seed_torrents.seed(engines.database_url, args.torrents))
        seeding_s = time.perf_counter() - started
        seed = json.loads((args.out.parent / "seed.json").read_text())
        asyncio.run(promote(engines.database_url, seed["usernames"][0]))
        login = {"login": seed["usernames"][0], "password": seed["password"]}
        token = post_json(port, "/api/auth/login", login)["tokens"]["access_token"]
        key = post_json_auth(port, "/api/admin/api-keys", {"name": "bench"}, token)["key"]
        ids = [t["id"] for t in json.loads(_get(port, "/api/torrents/latest?limit=100", token))]
        conns = int(args.connections)

        def search(word: str) -> Any:
            return lambda i, n, _: http_request(
                "GET", f"/api/torrents/search?q={word}&limit=20", token=token
            )

        bare = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        empty = measure("empty aiohttp handler", empty_port, lambda i, n, _: bare, args, conns)
        results.append(empty)
        phases = [
            (f"search common word ({COMMON})", search(COMMON)),
            (f"search rare word ({RARE})", search(RARE)),
            (f"search misspelled ({MISSPELLED} for {MIDDLE})", search(MISSPELLED)),
            ("GET /api/torrents/latest", lambda i, n, _: http_request(
                "GET", "/api/torrents/latest?limit=20", token=token)),
            ("GET /api/torrents/{id}", lambda i, n, _: http_request(
                "GET", f"/api/torrents/{ids[n % len(ids)]}", token=token)),
        ]  # fmt: skip
        for name, make in phases:
            results.append(measure(name, port, make, args, conns, ok=(200,)))
        ingest = measure(f"POST /api/ingest ({args.batch} per request)", port,
                         ingest_request(key, args.batch), args, 2, ok=(200,))  # fmt: skip
        results.append(ingest)
    return {
        "results": [r.__dict__ for r in results],
        "seeding_seconds": seeding_s,
        "ingest_torrents_per_second": ingest.rps * args.batch,
        "ratio_to_empty": {r.name: r.rps / empty.rps for r in results[1:]},
        "args": {k: str(v) for k, v in vars(args).items()},
    }


def _get(port: int, path: str, token: str) -> bytes:
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        body: bytes = resp.read()
    return body


def main(argv: list[str]) -> int:
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--torrents", type=int, default=1_000_000)
    extra.add_argument("--batch", type=int, default=1000)
    own, rest = extra.parse_known_args(argv)
    defaults = ["--connections", "8", "--seed-users", "50", "--seed-videos", "50",
                "--node-env", "MAX_BODY_BYTES=4194304",
                "--out", str(ROOT / "loadtests/reports/torrents_bench.json")]  # fmt: skip
    args = http_args(defaults + rest)
    args.torrents, args.batch = own.torrents, own.batch
    args.out.parent.mkdir(parents=True, exist_ok=True)
    print(f"load before: {Path('/proc/loadavg').read_text().strip()}", flush=True)
    print("| phase | conns | req/s | p50 ms | p95 ms | p99 ms | errors | app CPU "
          "| CPU 0 busy | CPU 1 busy |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|", flush=True)
    report = run(args)
    print(f"load after: {Path('/proc/loadavg').read_text().strip()}")
    print(f"seeding {args.torrents} torrents took {report['seeding_seconds']:.0f} s")
    print(f"ingest: {report['ingest_torrents_per_second']:.0f} torrents/s")
    for name, value in report["ratio_to_empty"].items():
        print(f"{name} / empty handler throughput: {value:.4f}")
    args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
