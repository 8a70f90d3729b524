"""Test harness: real PostgreSQL and Redis, the real app over real HTTP.

Tiers, one folder each (`make test` runs them all; `make test-unit` runs the first alone):
unit (pure logic, no engine: seconds), api (the contracts over real HTTP), realtime (the
WebSocket hub), jobs (the durable job runner), process (real `run.py` processes, several
nodes), chaos (engines killed, paused or cut off), browser (Playwright driving Chromium).

With DATABASE_URL and REDIS_URL set, tests use those servers (a fresh database is created for
the run); otherwise embedded servers are started in a temporary folder for the session.
Every test starts from empty tables and an empty Redis database.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis
from aiohttp.test_utils import TestClient

from devservices.postgres import ensure_database
from devservices.stack import Engines, local_engines
from server.app import create_app
from server.config import Settings
from storage import db, migrate
from storage.accounts import users

TEST_SECRET = secrets.token_urlsafe(48)
STRONG_PASSWORD = "Str0ngPassword"


def _database_url_with_name(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engines]:
    given_db, given_redis = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    var_dir = tmp_path_factory.mktemp("var")
    with local_engines(var_dir, given_db, given_redis) as found:
        # A database of our own for this run, so a developer's data is never truncated.
        name = f"streamhub_test_{uuid.uuid4().hex[:8]}"
        ensure_database(_database_url_with_name(found.database_url, "postgres"), name)
        test_db = _database_url_with_name(found.database_url, name)
        asyncio.run(_migrate(test_db))
        yield Engines(database_url=test_db, redis_url=found.redis_url)


async def _migrate(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await migrate.apply_pending(conn)
    finally:
        await conn.close()


def make_settings(engines: Engines, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "APP_ENV": "test",
        "DATABASE_URL": engines.database_url,
        "REDIS_URL": engines.redis_url,
        "JWT_SECRET_KEY": TEST_SECRET,
        "DB_POOL_MIN": 1,
        "DB_POOL_MAX": 5,
        "MIGRATE_ON_START": False,
        "CORS_ORIGINS": "https://clutch.example",
        # In-process broker: tests can read `app[REALTIME].broker.published`. The realtime suites
        # run against both brokers by passing BROKER themselves.
        "BROKER": "memory",
        # Off unless a test turns it on: tests register many accounts from one IP.
        "RATE_LIMIT_ENABLED": False,
        # Deadlines for a loaded test machine, where 200 concurrent clients on a pool of 5 can
        # wait seconds for a connection: a test that is about deadlines (tests/chaos) sets its
        # own short ones; the production defaults are in server/config.py.
        "DB_ACQUIRE_TIMEOUT_SECONDS": 30,
        "DB_COMMAND_TIMEOUT_SECONDS": 60,
        "REDIS_TIMEOUT_SECONDS": 10,
        "READYZ_TIMEOUT_SECONDS": 30,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(engines: Engines) -> Settings:
    return make_settings(engines)


@pytest.fixture
async def clean_state(engines: Engines) -> None:
    """Empty tables and an empty Redis database: every tier but `unit` uses it for each test
    (an autouse fixture in the tier's conftest.py)."""
    conn = await asyncpg.connect(engines.database_url)
    try:
        await db.truncate_all(conn)
    finally:
        await conn.close()
    client = redis.Redis.from_url(engines.redis_url)
    client.flushdb()
    client.close()


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> TestClient:
    return await aiohttp_client(create_app(settings))


class Accounts:
    """Registers users through the API and hands back their tokens."""

    def __init__(self, client: TestClient, database_url: str) -> None:
        self.client = client
        self.database_url = database_url

    async def register(
        self, username: str | None = None, *, role: str = "user", **extra: Any
    ) -> dict[str, Any]:
        username = username or f"user_{uuid.uuid4().hex[:8]}"
        payload = {
            "username": username,
            "email": f"{username}@example.com",
            "password": STRONG_PASSWORD,
        }
        payload.update(extra)
        resp = await self.client.post("/api/auth/register", json=payload)
        assert resp.status == 201, await resp.text()
        body: dict[str, Any] = await resp.json()
        if role != "user":
            conn = await asyncpg.connect(self.database_url)
            try:
                await users.set_role(conn, uuid.UUID(body["user"]["id"]), role)
            finally:
                await conn.close()
            login = await self.client.post(
                "/api/auth/login", json={"login": username, "password": STRONG_PASSWORD}
            )
            body = await login.json()
        body["headers"] = {"Authorization": f"Bearer {body['tokens']['access_token']}"}
        return body


@pytest.fixture
def accounts(client: TestClient, engines: Engines) -> Accounts:
    return Accounts(client, engines.database_url)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say plainly whether the browser tier ran, and with which Chromium."""
    from tests.browser.conftest import chromium_path

    collected = [
        report
        for key in ("passed", "failed", "skipped", "error")
        for report in terminalreporter.stats.get(key, [])
        if getattr(report, "nodeid", "").startswith("tests/browser/")
    ]
    if not collected:
        return  # the browser tier was not selected
    path = chromium_path()
    if path is None:
        terminalreporter.write_line(
            "BROWSER TESTS NOT RUN: no Chromium found. Install Debian's chromium-headless-shell"
            " (or chromium), or set CHROMIUM_PATH.",
            yellow=True,
            bold=True,
        )
    else:
        terminalreporter.write_line(f"browser tests ran with {path}", green=True)
