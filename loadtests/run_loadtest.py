"""`make loadtest`: a bounded, headless Locust run against a fresh local node.

1. Starts embedded Postgres and Redis in a temporary folder (or uses DATABASE_URL/REDIS_URL).
2. Starts one node (`python run.py`) on a free port, pinned to CPU 0 when `taskset` exists.
3. Seeds users and videos (storage.seed) and writes the credentials for Locust.
4. Runs Locust headless, pinned to CPU 1, for a bounded time. CSV and HTML reports go to
   loadtests/reports/ (git-ignored), with a /metrics scrape taken at the end.
5. Stops the node and the engines.

Rate limits stay enabled, so their Redis round trip is part of what is measured. The budgets
are raised, because every Locust user shares 127.0.0.1 and CLUTCH's 10 sign-ins a minute per
IP would turn the run into a test of the 429 path.

Usage: python loadtests/run_loadtest.py [--users 50] [--spawn-rate 10] [--duration 60s]
       [--seed-users 500] [--seed-videos 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core import passwords  # noqa: E402
from devservices.ports import free_port  # noqa: E402
from devservices.stack import local_engines  # noqa: E402
from storage import seed  # noqa: E402

REPORTS = ROOT / "loadtests" / "reports"
GENEROUS_LIMITS = {
    "RATE_LIMIT_ENABLED": "true",
    "RATE_LIMIT_AUTH": "1000000/minute",
    "RATE_LIMIT_UPLOADS": "1000000/hour",
    "RATE_LIMIT_COMMENTS": "1000000/hour",
    "RATE_LIMIT_LIKES": "1000000/minute",
    "RATE_LIMIT_INGEST": "1000000/minute",
    "RATE_LIMIT_GENERAL": "1000000/hour",
    # Every simulated user connects from 127.0.0.1.
    "WS_MAX_ANONYMOUS_CONNECTIONS_PER_IP": "1000000",
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=50, help="concurrent Locust users")
    parser.add_argument("--spawn-rate", type=float, default=10)
    parser.add_argument("--duration", default="60s", help="Locust --run-time")
    parser.add_argument("--seed-users", type=int, default=500)
    parser.add_argument("--seed-videos", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=REPORTS)
    parser.add_argument("--prefix", default="streamhub", help="report file name prefix")
    return parser.parse_args(argv)


def pinned(cpu: int, command: list[str]) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) > cpu:
        return ["taskset", "-c", str(cpu), *command]
    return command


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"node exited with {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("node not ready in time")


@contextlib.contextmanager
def node(env: dict[str, str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(pinned(0, [sys.executable, "run.py"]), cwd=ROOT, env=env)
    try:
        wait_ready(port, proc)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def seed_data(database_url: str, users: int, videos: int, out: Path) -> Path:
    """Load storage.seed's data set (emptying every table first); write what Locust needs."""
    password_hash = passwords.hash_password(seed.SEED_PASSWORD)
    data = asyncio.run(
        seed.run(database_url, users=users, videos=videos, reset=True, password_hash=password_hash)
    )
    # Columns of seed.VIDEO_COLUMNS: 0 id, 7 view_count, 11 visibility.
    public = [v for v in data.videos if v[11] == "public"]
    public.sort(key=lambda v: v[7], reverse=True)
    path = out / "seed.json"
    path.write_text(json.dumps({
        "password": seed.SEED_PASSWORD,
        "usernames": [u[1] for u in data.users],
        "video_ids": [str(v[0]) for v in public[:200]],
    }))  # fmt: skip
    return path


def scrape(port: int, path: Path) -> None:
    with contextlib.suppress(OSError):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            path.write_bytes(resp.read())


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        var_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="streamhub-lt-")))
        engines = stack.enter_context(
            local_engines(var_dir, os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL"))
        )
        port = free_port()
        env = {
            **os.environ,
            "APP_ENV": "development",
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "VAR_DIR": str(var_dir),
            "DATABASE_URL": engines.database_url,
            "REDIS_URL": engines.redis_url,
            "JWT_SECRET_KEY": secrets.token_urlsafe(48),
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
            **GENEROUS_LIMITS,
        }
        proc = stack.enter_context(node(env, port))
        seed_file = seed_data(engines.database_url, args.seed_users, args.seed_videos, args.out)
        prefix = args.out / args.prefix
        locust = str(Path(sys.executable).parent / "locust")
        command = pinned(1, [
            locust, "-f", str(ROOT / "loadtests/locustfile.py"),
            "--headless", "--users", str(args.users), "--spawn-rate", str(args.spawn_rate),
            "--run-time", args.duration, "--stop-timeout", "10",
            "--host", f"http://127.0.0.1:{port}",
            "--csv", str(prefix), "--html", f"{prefix}.html", "--only-summary",
        ])  # fmt: skip
        print("$", " ".join(command), flush=True)
        locust_env = {**env, "STREAMHUB_SEED_FILE": str(seed_file)}
        result = subprocess.run(command, cwd=ROOT, env=locust_env)
        scrape(port, args.out / f"{args.prefix}_metrics.txt")
        assert proc.poll() is None, "the node died during the run"
    print(f"reports: {prefix}_stats.csv, {prefix}.html, {prefix}_metrics.txt")
    # Locust exits 1 when any request failed; the reports say which, so that is not fatal here.
    return 0 if result.returncode in (0, 1) else result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
