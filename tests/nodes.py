"""Start real node processes (`python run.py`) for tests that need a whole process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from devservices.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_S = 90


def node_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update({"APP_ENV": "test", "LOG_LEVEL": "INFO"})
    env.update(overrides)
    return env


def spawn_node(
    env: dict[str, str], *args: str, port: int | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    """Start `python run.py` on a free port (or `port`) without waiting for it."""
    port = port or free_port()
    proc = subprocess.Popen(
        [sys.executable, "run.py", *args],
        cwd=ROOT,
        env={**env, "PORT": str(port), "HOST": "127.0.0.1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return proc, port


def start_node(
    env: dict[str, str], *args: str, port: int | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    """Start a node and wait until its /readyz answers 200."""
    proc, port = spawn_node(env, *args, port=port)
    wait_ready(proc, port)
    return proc, port


def wait_ready(proc: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"node exited with {proc.returncode}: {proc.stderr.read().decode()[-3000:]}"
            )  # type: ignore[union-attr]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise TimeoutError(f"node on port {port} not ready after {READY_TIMEOUT_S}s")
