"""`python run.py --workers N`: N node processes serving one port.

The parent resolves the engines once (embedded Postgres/Redis when their URLs are unset),
applies migrations once, then starts N children running `run.py serve --reuse-port` with the
resolved URLs and secret in their environment. The kernel spreads connections over them
(SO_REUSEPORT); Redis carries events between them like between nodes on different machines.

Failure policy: a child that exits on its own is restarted after a pause, unless children keep
dying (more than `MAX_RESTARTS` a minute), which stops all of them: a crash loop should be
visible, not hidden. SIGTERM/SIGINT to the parent are forwarded; the children shut down
gracefully and the parent waits for them (killing any that outlive the shutdown timeout).
Children run in their own session so a terminal's Ctrl-C reaches them once, via the parent,
and on Linux they get SIGTERM if the parent dies (even by SIGKILL), so none outlives it.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from server.config import Settings

log = logging.getLogger("streamhub.workers")

MAX_RESTARTS = 5  # per minute, across all children
RESTART_PAUSE_S = 1.0
POLL_S = 0.2


def _die_with_parent() -> None:
    """In the child before exec: ask Linux for SIGTERM when the supervisor dies."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def child_env(settings: Settings) -> dict[str, str]:
    assert settings.database_url and settings.redis_url and settings.jwt_secret_key
    return {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "JWT_SECRET_KEY": settings.jwt_secret_key,
        "HOST": settings.host,
        "PORT": str(settings.port),
        "MIGRATE_ON_START": "false",  # the parent already migrated
    }


class Supervisor:
    def __init__(self, settings: Settings, workers: int, run_py: Path) -> None:
        self._command = [sys.executable, str(run_py), "serve", "--reuse-port"]
        self._env = child_env(settings)
        self._grace_s = settings.shutdown_timeout + 5
        self._children: list[subprocess.Popen[bytes]] = []
        self._workers = workers
        self._stopping = False
        self._restarts: list[float] = []

    def _spawn(self) -> subprocess.Popen[bytes]:
        child = subprocess.Popen(
            self._command, env=self._env, start_new_session=True, preexec_fn=_die_with_parent
        )
        log.info("worker started", extra={"pid": child.pid})
        return child

    def _forward(self, signum: int, _frame: FrameType | None) -> None:
        self._stopping = True
        for child in self._children:
            if child.poll() is None:
                child.send_signal(signum)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._forward)
        signal.signal(signal.SIGINT, self._forward)
        self._children = [self._spawn() for _ in range(self._workers)]
        log.info("serving with workers", extra={"workers": self._workers})
        while not self._stopping:
            self._restart_exited()
            time.sleep(POLL_S)
        return self._wait_all()

    def _restart_exited(self) -> None:
        for index, child in enumerate(self._children):
            code = child.poll()
            if code is None or self._stopping:
                continue
            now = time.monotonic()
            self._restarts = [t for t in self._restarts if now - t < 60] + [now]
            if len(self._restarts) > MAX_RESTARTS:
                log.error("workers keep exiting; stopping all", extra={"code": code})
                self._forward(signal.SIGTERM, None)
                return
            log.warning("worker exited; restarting", extra={"pid": child.pid, "code": code})
            time.sleep(RESTART_PAUSE_S)
            self._children[index] = self._spawn()

    def _wait_all(self) -> int:
        deadline = time.monotonic() + self._grace_s
        for child in self._children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker did not stop in time; killing", extra={"pid": child.pid})
                child.kill()
                child.wait()
        return 1 if len(self._restarts) > MAX_RESTARTS else 0
