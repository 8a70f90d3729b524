"""The asyncpg pool: JSON codecs registered once per connection."""

from __future__ import annotations

from typing import TypeAlias

import asyncpg
import orjson

# What repository functions accept: a pool for one-off statements, or a connection inside a
# transaction the caller holds.
Conn: TypeAlias = asyncpg.Connection | asyncpg.Pool


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads,
            schema="pg_catalog",
        )  # fmt: skip


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release a connection without asyncpg's default reset query.

    The default (`pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`) is one more
    round trip on every release, so a one-statement `pool.fetch` costs two. Profiling
    `GET /api/videos` put about a third of the node's time in socket writes to Postgres.
    Streamhub leaves no session state on a pooled connection: no LISTEN (the job worker
    UNLISTENs before it releases its listening connection), no session-level SET
    (only SET LOCAL, which ends with its transaction), no cursors outside a transaction, and
    `migrate` releases its advisory lock in `finally`. asyncpg still rolls back a transaction
    left open before calling this, and terminates the connection if that fails.
    """


def make_pool(dsn: str, *, min_size: int, max_size: int) -> asyncpg.Pool:
    """A pool not yet connected: `await pool` opens it (so it can be built synchronously)."""
    return asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        reset=_keep_session,
        command_timeout=30,
    )


async def create_pool(dsn: str, *, min_size: int, max_size: int) -> asyncpg.Pool:
    pool = await make_pool(dsn, min_size=min_size, max_size=max_size)
    assert pool is not None
    return pool


async def truncate_all(conn: asyncpg.Connection) -> None:
    """Empty every table except the migration record (tests and `seed --reset`)."""
    tables = await conn.fetch(
        """SELECT quote_ident(tablename) AS name FROM pg_tables
           WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"""
    )
    if tables:
        names = ", ".join(row["name"] for row in tables)
        await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
