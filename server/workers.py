"""`python run.py --workers N`: N node processes serving one port, and the node's job worker.

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

With WORKER_IN_NODE (the default) the supervisor also starts exactly one job worker
(`run.py worker`), supervised like the nodes, and tells the nodes not to start their own.
A single node (`run.py serve`) runs its job worker with `JobWorkerChild`: it dies with the
node the same way and gets SIGTERM when the node begins its graceful shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import FrameType

from aiohttp import web

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
        **storage_env(settings),
    }


def storage_env(settings: Settings) -> dict[str, str]:
    """The object storage the parent resolved (an embedded server's address and keys)."""
    values = {
        "AWS_ENDPOINT_URL": settings.aws_endpoint_url,
        "AWS_ACCESS_KEY_ID": settings.aws_access_key_id,
        "AWS_SECRET_ACCESS_KEY": settings.aws_secret_access_key,
        "AWS_S3_BUCKET": settings.aws_s3_bucket,
        "CDN_BASE_URL": settings.cdn_base_url,
    }
    return {name: value for name, value in values.items() if value}


def job_worker_command(run_py: Path) -> list[str]:
    return [sys.executable, str(run_py), "worker"]


def _spawn(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    # Spawned from the main thread: PR_SET_PDEATHSIG fires when the spawning thread ends.
    return subprocess.Popen(command, env=env, start_new_session=True, preexec_fn=_die_with_parent)


def _wait_or_kill(child: subprocess.Popen[bytes], timeout: float) -> int:
    try:
        return child.wait(timeout=max(0.1, timeout))
    except subprocess.TimeoutExpired:
        log.warning("child did not stop in time; killing", extra={"pid": child.pid})
        child.kill()
        return child.wait()


class JobWorkerChild:
    """The one job worker (`run.py worker`) a single node runs beside itself.

    Started once the node's app is up (migrations applied), restarted if it exits on its own
    (unless it keeps exiting), sent SIGTERM when the node's graceful shutdown begins so both
    drain together, and waited for before the node closes its engines.
    """

    def __init__(self, settings: Settings, run_py: Path) -> None:
        self._command = job_worker_command(run_py)
        self._env = child_env(settings)
        self._grace_s = settings.job_shutdown_grace_seconds + 10
        self._stopping = False
        self._restarts: list[float] = []
        self.process: subprocess.Popen[bytes] | None = None

    def attach(self, app: web.Application) -> None:
        app.cleanup_ctx.append(self._lifetime)
        app.on_shutdown.append(self._on_shutdown)

    def _start(self) -> None:
        self.process = _spawn(self._command, self._env)
        log.info(
            "job worker started in this node (WORKER_IN_NODE=true; set it to false where "
            "workers run as `run.py worker`)",
            extra={"pid": self.process.pid},
        )

    async def _lifetime(self, _app: web.Application) -> AsyncIterator[None]:
        self._start()
        watcher = asyncio.create_task(self._watch(), name="job-worker-watch")
        yield
        self._stopping = True
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(_wait_or_kill, self.process, self._grace_s)
        log.info("job worker stopped", extra={"pid": self.process.pid, "code": code})

    async def _on_shutdown(self, _app: web.Application) -> None:
        self._stopping = True
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    async def _watch(self) -> None:
        while not self._stopping:
            await asyncio.sleep(RESTART_PAUSE_S)
            code = None if self.process is None else self.process.poll()
            if code is None or self._stopping:
                continue
            now = time.monotonic()
            self._restarts = [t for t in self._restarts if now - t < 60] + [now]
            if len(self._restarts) > MAX_RESTARTS:
                log.error("job worker keeps exiting; not restarting it", extra={"code": code})
                return
            log.warning("job worker exited; restarting", extra={"code": code})
            self._start()


class Supervisor:
    def __init__(self, settings: Settings, workers: int, run_py: Path) -> None:
        node = [sys.executable, str(run_py), "serve", "--reuse-port"]
        self._commands = [node] * workers
        if settings.worker_in_node:
            self._commands.append(job_worker_command(run_py))
        # The supervisor starts the one job worker itself; the nodes must not start theirs.
        self._env = {**child_env(settings), "WORKER_IN_NODE": "false"}
        self._grace_s = max(settings.shutdown_timeout, settings.job_shutdown_grace_seconds) + 5
        self._children: list[subprocess.Popen[bytes]] = []
        self._workers = workers
        self._stopping = False
        self._restarts: list[float] = []

    def _spawn(self, index: int) -> subprocess.Popen[bytes]:
        child = _spawn(self._commands[index], self._env)
        if index < self._workers:
            log.info("worker started", extra={"pid": child.pid})
        else:
            log.info(
                "job worker started beside the nodes (WORKER_IN_NODE=true)",
                extra={"pid": child.pid},
            )
        return child

    def _forward(self, signum: int, _frame: FrameType | None) -> None:
        self._stopping = True
        for child in self._children:
            if child.poll() is None:
                child.send_signal(signum)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._forward)
        signal.signal(signal.SIGINT, self._forward)
        self._children = [self._spawn(index) for index in range(len(self._commands))]
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
            self._children[index] = self._spawn(index)

    def _wait_all(self) -> int:
        deadline = time.monotonic() + self._grace_s
        for child in self._children:
            _wait_or_kill(child, deadline - time.monotonic())
        return 1 if len(self._restarts) > MAX_RESTARTS else 0
