"""Settings rules, the bootstrap admin, and the migration runner's guarantees."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import asyncpg
import jwt
import pytest

from devservices.postgres import create_database
from storage import migrate
from tests.conftest import TEST_SECRET, _database_url_with_name, make_settings


async def test_admin_is_created_then_updated(aiohttp_client: Any, engines: Any) -> None:
    from server.app import create_app

    for password in ("FirstAdm1nPass", "SecondAdm1nPass"):
        settings = make_settings(engines, ADMIN_USERNAME="root_admin", ADMIN_PASSWORD=password)
        client = await aiohttp_client(create_app(settings))
        resp = await client.post(
            "/api/auth/login", json={"login": "root_admin", "password": password}
        )
        assert resp.status == 200
        token = (await resp.json())["tokens"]["access_token"]
        claims = jwt.decode(token, TEST_SECRET, algorithms=["HS256"], audience="clutch-users")
        assert claims["role"] == "admin"
    old = await client.post(
        "/api/auth/login", json={"login": "root_admin", "password": "FirstAdm1nPass"}
    )
    assert old.status == 401


async def _fresh_database(engines: Any) -> str:
    name = f"streamhub_unit_{uuid.uuid4().hex[:8]}"
    await create_database(_database_url_with_name(engines.database_url, "postgres"), name)
    return _database_url_with_name(engines.database_url, name)


async def test_apply_is_idempotent_and_ordered(engines: Any, tmp_path: Path) -> None:
    (tmp_path / "0002_second.sql").write_text("ALTER TABLE t ADD COLUMN b int;")
    (tmp_path / "0001_first.sql").write_text("CREATE TABLE t (a int);")
    conn = await asyncpg.connect(await _fresh_database(engines))
    try:
        assert await migrate.apply_pending(conn, migrate.discover(tmp_path)) == [1, 2]
        assert await migrate.apply_pending(conn, migrate.discover(tmp_path)) == []
    finally:
        await conn.close()


async def test_failed_migration_leaves_nothing_half_done(engines: Any, tmp_path: Path) -> None:
    (tmp_path / "0001_bad.sql").write_text("CREATE TABLE half (a int); SELECT no_such_function();")
    conn = await asyncpg.connect(await _fresh_database(engines))
    try:
        with pytest.raises(asyncpg.UndefinedFunctionError):
            await migrate.apply_pending(conn, migrate.discover(tmp_path))
        assert await conn.fetchval("SELECT to_regclass('half')") is None
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == 0
    finally:
        await conn.close()


async def test_edited_migration_is_refused(engines: Any, tmp_path: Path) -> None:
    path = tmp_path / "0001_first.sql"
    path.write_text("CREATE TABLE t (a int);")
    conn = await asyncpg.connect(await _fresh_database(engines))
    try:
        await migrate.apply_pending(conn, migrate.discover(tmp_path))
        path.write_text("CREATE TABLE t (a bigint);")
        with pytest.raises(migrate.MigrationError, match="changed"):
            await migrate.apply_pending(conn, migrate.discover(tmp_path))
    finally:
        await conn.close()
