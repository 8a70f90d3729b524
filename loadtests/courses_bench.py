"""OpenCourse's endpoints under load: p50/p95/p99 and throughput, as a ratio to an empty aiohttp
handler and to the house's reference read `GET /api/videos/{id}`, both measured in the same run
(loadtests/http_bench.py's layout: servers on CPU 0, the load generator on CPU 1).

The node is seeded with http_bench's users and videos; then one seed user is made an
instructor and creates `--courses` published courses through the API, and every connection
signs in as its own student.

Not a test: never run under pytest. Usage:
    python loadtests/courses_bench.py [--seconds 10] [--connections 32] [--courses 1000]
        [--out loadtests/reports/courses_bench.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from loadtests.http_bench import parse_args as http_args  # noqa: E402
from loadtests.http_bench import post_json, start_servers  # noqa: E402
from loadtests.http_client import SERVER_CPU, Result, http_request, measure  # noqa: E402

WORDS = ("python", "streams", "algebra", "cooking", "design", "history", "physics", "music")
LEVELS = ("beginner", "intermediate", "advanced")


def create_courses(port: int, token: str, count: int) -> list[str]:
    ids = []
    for n in range(count):
        a, b = WORDS[n % len(WORDS)], WORDS[(n * 7 + 3) % len(WORDS)]
        body = {
            "title": f"{a.title()} and {b} {n}",
            "description": f"A course about {a}, with exercises on {b}. " * 5,
            "level": LEVELS[n % 3],
            "tags": [a, b],
            "published": True,
        }
        created = post_json_auth(port, "/api/v1/courses", body, token)
        ids.append(created["course"]["id"])
    return ids


def post_json_auth(port: int, path: str, body: dict[str, Any], token: str) -> dict[str, Any]:
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as resp:
        loaded: dict[str, Any] = json.loads(resp.read())
    return loaded


async def make_instructor(database_url: str, username: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE users SET role = 'creator' WHERE username = $1", username)
    finally:
        await conn.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    os.sched_setaffinity(0, {SERVER_CPU})
    connections = int(args.connections)
    results: list[Result] = []
    with contextlib.ExitStack() as stack:
        empty_port, port, engines = start_servers(stack, args)
        seed = json.loads((args.out.parent / "seed.json").read_text())
        asyncio.run(make_instructor(engines.database_url, seed["usernames"][0]))
        login = {"login": seed["usernames"][0], "password": seed["password"]}
        teacher = post_json(port, "/api/auth/login", login)["tokens"]["access_token"]
        courses = create_courses(port, teacher, args.courses)
        tokens = [
            post_json(port, "/api/auth/login",
                      {"login": seed["usernames"][i + 1], "password": seed["password"]}
                      )["tokens"]["access_token"]
            for i in range(connections)
        ]  # fmt: skip
        videos = seed["video_ids"]
        phases = [
            # The house's reference read (BENCHMARKS.md), measured in the same run.
            ("GET /api/videos/{id} (reference)", lambda i, n, _: http_request(
                "GET", f"/api/videos/{videos[n % 50]}", token=tokens[i]), (200,)),
            ("GET /api/v1/courses", lambda i, n, _: http_request(
                "GET", "/api/v1/courses?limit=20"), (200,)),
            ("GET /api/v1/courses?q=", lambda i, n, _: http_request(
                "GET", f"/api/v1/courses?q={WORDS[n % len(WORDS)]}&limit=20"), (200,)),
            ("GET /api/v1/courses?sort=popular", lambda i, n, _: http_request(
                "GET", "/api/v1/courses?sort=popular&limit=20"), (200,)),
            ("GET /api/v1/courses/{id} (signed in)", lambda i, n, _: http_request(
                "GET", f"/api/v1/courses/{courses[n % 100]}", token=tokens[i]), (200,)),
            # Each connection enrolls in and leaves its own course in turn.
            ("POST+DELETE /api/v1/courses/{id}/enroll", lambda i, n, _: http_request(
                ("POST", "DELETE")[n % 2], f"/api/v1/courses/{courses[i]}/enroll",
                token=tokens[i]), (200,)),
            ("GET /api/v1/users/me", lambda i, n, _: http_request(
                "GET", "/api/v1/users/me", token=tokens[i]), (200,)),
        ]  # fmt: skip
        empty = measure("empty aiohttp handler", empty_port,
                        lambda i, n, _: b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", args,
                        connections)  # fmt: skip
        results.append(empty)
        for name, make, ok in phases:
            results.append(measure(name, port, make, args, connections, ok=ok))
    return {
        "results": [r.__dict__ for r in results],
        "ratio_to_empty": {r.name: r.rps / empty.rps for r in results[1:]},
        "args": {k: str(v) for k, v in vars(args).items()},
    }


def main(argv: list[str]) -> int:
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--courses", type=int, default=1000)
    own, rest = extra.parse_known_args(argv)
    defaults = ["--connections", "32", "--seed-users", "200", "--seed-videos", "200",
                "--out", str(ROOT / "loadtests/reports/courses_bench.json")]  # fmt: skip
    args = http_args(defaults + rest)
    args.courses = own.courses
    args.out.parent.mkdir(parents=True, exist_ok=True)
    print(f"load before: {Path('/proc/loadavg').read_text().strip()}", flush=True)
    print("| endpoint | conns | req/s | p50 ms | p95 ms | p99 ms | errors | app CPU "
          "| CPU 0 busy | CPU 1 busy |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|", flush=True)
    report = run(args)
    print(f"load after: {Path('/proc/loadavg').read_text().strip()}")
    for name, value in report["ratio_to_empty"].items():
        print(f"{name} / empty handler throughput: {value:.4f}")
    args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
