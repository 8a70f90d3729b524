"""Resolve the engines a node needs: the URLs given, or embedded servers started for them."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from devservices.postgres import EmbeddedPostgres
from devservices.redis import EmbeddedRedis


@dataclass(frozen=True)
class Engines:
    database_url: str
    redis_url: str


@contextlib.contextmanager
def local_engines(
    var_dir: Path, database_url: str | None, redis_url: str | None
) -> Iterator[Engines]:
    """Yield URLs for Postgres and Redis, starting embedded servers under `var_dir` for
    whichever URL is missing, and stopping exactly those servers on exit."""
    started: list[EmbeddedPostgres | EmbeddedRedis] = []
    try:
        if not database_url:
            postgres = EmbeddedPostgres(var_dir / "pg")
            database_url = postgres.start()
            started.append(postgres)
        if not redis_url:
            redis = EmbeddedRedis(var_dir / "redis")
            redis_url = redis.start()
            started.append(redis)
        yield Engines(database_url=database_url, redis_url=redis_url)
    finally:
        for server in reversed(started):
            server.stop()


def dev_secret(var_dir: Path) -> str:
    """A random JWT secret kept under var/, so dev tokens survive a restart of the node."""
    path = var_dir / "jwt_secret"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.write_text(secret)
    path.chmod(0o600)
    return secret
