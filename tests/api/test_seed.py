"""`python run.py seed`: a realistic data set whose counters are exact, loaded fast."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

import run
from storage import integrity, seed
from tests.conftest import TEST_SECRET


async def test_seed_command_fills_consistent_data(
    client: Any, engines: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capsys: Any
) -> None:
    for name, value in {
        "APP_ENV": "test", "DATABASE_URL": engines.database_url, "REDIS_URL": engines.redis_url,
        "JWT_SECRET_KEY": TEST_SECRET, "VAR_DIR": str(tmp_path), "LOG_LEVEL": "WARNING",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    # run.main drives its own event loop, so it runs in a worker thread here.
    code = await asyncio.to_thread(
        run.main, ["seed", "--users", "40", "--videos", "120", "--reset"]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "seeded 40 users" in out and seed.SEED_PASSWORD in out
    assert "catalogue (demo catalogue, TMDB_API_KEY unset): 14 lists warmed, 120 favorites" in out

    conn = await asyncpg.connect(engines.database_url)
    try:
        counts = {
            table: await conn.fetchval(f"SELECT count(*) FROM {table}")
            for table in ("users", "videos", "follows", "comments", "likes", "favorites")
        }
        # OnStream: the demo catalogue (no TMDb key here) gave 40 users 3 favorites each and a
        # history of 4 titles, through the library service.
        assert counts["favorites"] == 40 * 3
        assert await conn.fetchval("SELECT count(DISTINCT user_id) FROM watch_history") == 40
        assert counts["users"] == 40 and counts["videos"] == 120
        assert counts["follows"] > 0 and counts["comments"] > 0 and counts["likes"] > 0
        assert (
            await conn.fetchval("SELECT count(*) FROM comments WHERE parent_comment_id IS NOT NULL")
            > 0
        )
        assert await conn.fetchval("SELECT count(DISTINCT category) FROM videos") > 3
        assert set((await integrity.drift(conn)).values()) == {0}
        creator = await conn.fetchval("SELECT username FROM users WHERE role = 'creator' LIMIT 1")
    finally:
        await conn.close()

    # The API serves the seeded data, and the shared password logs in.
    listed = await (await client.get("/api/videos?sort=trending&limit=5")).json()
    assert len(listed["videos"]) == 5
    resp = await client.post(
        "/api/auth/login", json={"login": creator, "password": seed.SEED_PASSWORD}
    )
    assert resp.status == 200
