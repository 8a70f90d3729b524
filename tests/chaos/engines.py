"""Engines of a chaos test's own, so it can stop or freeze them without touching the session's.

`frozen(pid)` sends SIGSTOP to a server and its child processes (Postgres runs one backend
per connection, each in its own process group) and always sends SIGCONT on the way out.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

from devservices.ports import read_int
from devservices.postgres import EmbeddedPostgres
from devservices.redis import EmbeddedRedis


def children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # exited meanwhile
        # Fields after the command name, which is in parentheses and may hold spaces.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


@contextlib.contextmanager
def frozen(pid: int) -> Iterator[None]:
    """SIGSTOP `pid` and its children for the block; SIGCONT them however the block ends."""
    stopped: list[int] = []
    try:
        os.kill(pid, signal.SIGSTOP)  # first, so it forks no child we would miss
        stopped.append(pid)
        for child in children(pid):
            os.kill(child, signal.SIGSTOP)
            stopped.append(child)
        yield
    finally:
        for process in reversed(stopped):
            with contextlib.suppress(ProcessLookupError):
                os.kill(process, signal.SIGCONT)


def thaw(pid: int) -> None:
    """SIGCONT `pid` and its children (harmless if they run)."""
    for process in [pid, *children(pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process, signal.SIGCONT)


def postgres_pid(server: EmbeddedPostgres) -> int:
    pid = read_int(server.data_dir / "data" / "postmaster.pid")
    assert pid is not None, "the embedded postgres is not running"
    return pid


def redis_pid(server: EmbeddedRedis) -> int:
    pid = read_int(server.data_dir / "redis.pid")
    assert pid is not None, "the embedded redis is not running"
    return pid


@contextlib.contextmanager
def own_redis(folder: Path) -> Iterator[EmbeddedRedis]:
    """A Redis server for one test, stopped (and never left frozen) at the end."""
    server = EmbeddedRedis(folder)
    server.start()
    try:
        yield server
    finally:
        pid = read_int(folder / "redis.pid")
        if pid is not None:
            thaw(pid)
        server.stop()
