"""A node as a new user runs it: `python run.py`, embedded engines, signals, restarts."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from devservices.ports import pid_alive, read_int
from devservices.postgres import create_database
from storage import migrate
from tests.conftest import STRONG_PASSWORD, TEST_SECRET, _database_url_with_name
from tests.nodes import ROOT, node_env, start_node
from tests.waiting import wait_for

pytestmark = pytest.mark.timeout(240)


def _http(port: int, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        return _read_all(sock)


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _post(path: str, body: dict[str, Any]) -> tuple[bytes, bytes]:
    payload = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
    ).encode()
    return head + payload[:5], payload[5:]


def _stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=60)


def _gone(*pids: int, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while any(pid_alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


async def _refuses_connections(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return True
    writer.close()
    return False


async def _wait_for_lock_waiter(conn: asyncpg.Connection) -> None:
    for _ in range(200):
        if await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        ):
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("the login never blocked on the row lock")


async def test_embedded_engines_graceful_shutdown_and_restart(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    env = node_env(VAR_DIR=str(var_dir), APP_ENV="development", SHUTDOWN_TIMEOUT="10")
    proc, port = start_node(env)
    try:
        first, rest = _post(
            "/api/auth/register",
            {"username": "persist", "email": "persist@example.com", "password": STRONG_PASSWORD},
        )
        assert b" 201 " in _http(port, first + rest).split(b"\r\n", 1)[0]
        assert (var_dir / "pg" / "data" / "PG_VERSION").exists()
        pg_pid = read_int(var_dir / "pg" / "data" / "postmaster.pid")
        redis_pid = read_int(var_dir / "redis" / "redis.pid")
        assert pg_pid and redis_pid and pid_alive(pg_pid) and pid_alive(redis_pid)
        pg_port = (var_dir / "pg" / "data" / "postmaster.pid").read_text().splitlines()[3]

        # Hold the user's row so a login is provably in flight (blocked in its UPDATE)
        # when SIGTERM arrives; the node must finish it before exiting.
        conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{pg_port}/streamhub")
        lock = conn.transaction()
        await lock.start()
        await conn.execute("SELECT 1 FROM users WHERE username = 'persist' FOR UPDATE")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head, tail = _post("/api/auth/login", {"login": "persist", "password": STRONG_PASSWORD})
        writer.write(head + tail)
        await _wait_for_lock_waiter(conn)
        proc.send_signal(signal.SIGTERM)
        # Stopped accepting: new connections are refused (once the signal is handled, however
        # long a loaded machine takes) while the in-flight request keeps the node alive.
        await wait_for(lambda: _refuses_connections(port), message="port still accepting")
        assert proc.poll() is None  # still finishing the in-flight request
        await lock.rollback()
        await conn.close()
        answer = await asyncio.wait_for(reader.read(), 30)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        assert await asyncio.to_thread(proc.wait, 60) == 0
        # The node stopped what it started.
        assert await asyncio.to_thread(_gone, pg_pid, redis_pid)
    finally:
        if proc.poll() is None:
            proc.kill()

    # Data survives a restart.
    proc, port = start_node(env)
    try:
        head, tail = _post("/api/auth/login", {"login": "persist", "password": STRONG_PASSWORD})
        assert _http(port, head + tail).startswith(b"HTTP/1.1 200")
    finally:
        assert _stop(proc) == 0


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "run.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("secret", [None, "short", "your_super_secret_key_here"])
def test_production_refuses_weak_secret(secret: str | None, engines: Any) -> None:
    env = node_env(
        APP_ENV="production", DATABASE_URL=engines.database_url, REDIS_URL=engines.redis_url
    )
    env.pop("JWT_SECRET_KEY", None)
    if secret:
        env["JWT_SECRET_KEY"] = secret
    result = _run(env)
    assert result.returncode == 2
    assert "JWT_SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_setting_is_a_clear_error(engines: Any) -> None:
    env = node_env(
        DATABASE_URL=engines.database_url, REDIS_URL=engines.redis_url, PORT="not-a-port"
    )
    result = _run(env)
    assert result.returncode == 2
    assert "PORT" in result.stderr and "Traceback" not in result.stderr


def test_concurrent_migrate_applies_each_file_once(engines: Any) -> None:
    name = f"streamhub_mig_{uuid.uuid4().hex[:8]}"
    asyncio.run(create_database(_database_url_with_name(engines.database_url, "postgres"), name))
    url = _database_url_with_name(engines.database_url, name)
    env = node_env(DATABASE_URL=url, REDIS_URL=engines.redis_url, JWT_SECRET_KEY=TEST_SECRET)
    procs = [
        subprocess.Popen(
            [sys.executable, "run.py", "migrate"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    applied: list[int] = []
    for proc in procs:
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
        for line in stderr.splitlines():
            entry = json.loads(line)
            if entry.get("msg") == "migrations done":
                applied.extend(entry["applied"])
    expected = [m.version for m in migrate.discover()]
    assert sorted(applied) == expected  # every file applied by exactly one process

    async def recorded() -> list[int]:
        conn = await asyncpg.connect(url)
        try:
            return [
                r["version"]
                for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY 1")
            ]
        finally:
            await conn.close()

    assert asyncio.run(recorded()) == expected
