"""Schemathesis against a real node: the OpenAPI document must say what the server does.

`make fuzz` runs it at length with a random seed; `tests/process/test_openapi_fuzz.py` runs a
short, seeded form in every `make test`. Both start a `run.py` node on loopback (embedded
engines unless DATABASE_URL/REDIS_URL are set), then run `schemathesis run --checks all`
twice: anonymously and with an admin's bearer token (so every operation is reachable). The
stateful phase follows the links schemathesis infers between operations. Exit status 0 means
no disagreement was found.

    python -m tests.fuzz [--max-examples N] [--max-time SECONDS] [--seed N]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devservices.stack import local_engines
from tests.nodes import node_env, start_node

ADMIN = ("fuzz_admin", "Fuzz3rPassw0rd")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CONFIG = Path(__file__).with_name("schemathesis.toml")


@contextmanager
def fuzz_node(database_url: str, redis_url: str) -> Iterator[int]:
    env = node_env(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        APP_ENV="test",
        JWT_SECRET_KEY="fuzz-" + "x" * 40,
        MIGRATE_ON_START="true",
        LOG_LEVEL="WARNING",
        RATE_LIMIT_ENABLED="false",  # a 429 would hide what the handlers do
        WORKER_IN_NODE="false",
        ADMIN_USERNAME=ADMIN[0],
        ADMIN_PASSWORD=ADMIN[1],
    )
    proc, port = start_node(env)
    try:
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def admin_token(port: int) -> str:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/auth/login",
        data=json.dumps({"login": ADMIN[0], "password": ADMIN[1]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        token: str = json.load(resp)["tokens"]["access_token"]
    return token


def fuzz(port: int, *, max_examples: int, max_time: int, seed: int | None) -> list[int]:
    """Exit codes of the anonymous and the authenticated run."""
    base = [
        str(SCHEMATHESIS), "--config-file", str(CONFIG), "run",
        f"http://127.0.0.1:{port}/openapi.json",
        "--checks", "all", "--max-examples", str(max_examples), "--max-time", str(max_time),
        "--workers", "1", "--no-color", "--request-timeout", "30", "--request-retries", "1",
    ]  # fmt: skip
    if seed is not None:  # deterministic: no example database either
        base += ["--seed", str(seed), "--generation-deterministic"]
    else:
        base += ["--generation-database", "none"]  # nothing written to the working tree
    codes = []
    for headers in ([], ["-H", f"Authorization: Bearer {admin_token(port)}"]):
        # Run elsewhere: schemathesis keeps a cache of findings in its working directory.
        with tempfile.TemporaryDirectory(prefix="streamhub-fuzz-") as scratch:
            done = subprocess.run([*base, *headers], cwd=scratch, check=False)
        codes.append(done.returncode)
    return codes


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-examples", type=int, default=50)
    parser.add_argument("--max-time", type=int, default=300)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="streamhub-fuzz-") as var_dir:
        given_db, given_redis = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
        with local_engines(Path(var_dir), given_db, given_redis) as engines:
            with fuzz_node(engines.database_url, engines.redis_url) as port:
                codes = fuzz(
                    port, max_examples=args.max_examples, max_time=args.max_time, seed=args.seed
                )
    print(f"schemathesis: anonymous run exit {codes[0]}, authenticated run exit {codes[1]}")
    return 0 if codes == [0, 0] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
