"""The fan-out benchmark's server side: node processes, their database rows, and what they use.

Nodes are `run.py` (the hub) or `loadtests/baseline_broadcaster.py`, started fresh for every
case, pinned to `NODE_CPU` and bound to 127.0.0.1. RSS and CPU time are read from /proc.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from devservices.ports import free_port
from storage import migrate
from storage.accounts import users

ROOT = Path(__file__).resolve().parent.parent
NODE_CPU = "0"
Node = tuple[subprocess.Popen[bytes], int]  # process, port


@dataclass
class Setup:
    database_url: str
    redis_url: str
    secret: str
    video_id: str


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def wait_http(port: int, path: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"node exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2):
                return
        except urllib.error.HTTPError:
            return  # the baseline answers 400 to a plain GET of /ws: it is up
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"node on {port} not ready")


def _command(target: str, port: int, setup: Setup) -> tuple[list[str], str]:
    if target == "hub":
        return [sys.executable, "run.py", "--port", str(port)], "/readyz"
    script = "loadtests/baseline_broadcaster.py"
    return [sys.executable, script, "--port", str(port), "--redis", setup.redis_url], "/ws"


def start_nodes(target: str, count: int, setup: Setup) -> list[Node]:
    env = {
        **os.environ,
        "APP_ENV": "production",
        "DATABASE_URL": setup.database_url,
        "REDIS_URL": setup.redis_url,
        "JWT_SECRET_KEY": setup.secret,
        "LOG_LEVEL": "WARNING",
        "MIGRATE_ON_START": "false",
        "RATE_LIMIT_ENABLED": "false",
        # Every benchmark socket is anonymous and comes from 127.0.0.1.
        "WS_MAX_ANONYMOUS_CONNECTIONS_PER_IP": "1000000",
        "HOST": "127.0.0.1",
    }
    nodes, ready = [], "/"
    for _ in range(count):
        port = free_port()
        cmd, ready = _command(target, port, setup)
        proc = subprocess.Popen(
            ["taskset", "-c", NODE_CPU, *cmd],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        nodes.append((proc, port))
    for proc, port in nodes:
        wait_http(port, ready, proc)
    return nodes


def stop_nodes(nodes: list[Node]) -> None:
    for proc, _ in nodes:
        proc.terminate()
    for proc, _ in nodes:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def prepare(database_url: str) -> str:
    """Migrate and create the benchmark's public video; return its id."""
    conn = await asyncpg.connect(database_url)
    try:
        await migrate.apply_pending(conn)
        user = await users.create(
            conn,
            username=f"bench_{uuid.uuid4().hex[:6]}",
            email=f"bench_{uuid.uuid4().hex[:6]}@example.com",
            password_hash="-",
            display_name="Bench",
            avatar_url="/static/avatars/default.svg",
            role="creator",
        )
        video_id = await conn.fetchval(
            """INSERT INTO videos (author_id, title, processing_status, published_at)
               VALUES ($1, 'bench', 'ready', now()) RETURNING id""",
            user.id,
        )
    finally:
        await conn.close()
    return str(video_id)
