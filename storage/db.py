"""The asyncpg pool: JSON codecs registered once per connection."""

from __future__ import annotations

from typing import Any, TypeAlias

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


class DeadlinePool(asyncpg.Pool):
    """An asyncpg pool whose `acquire()` waits at most `acquire_timeout` unless told otherwise.

    asyncpg's own default is to wait for ever, and `pool.fetch(...)` and friends acquire with
    that default, so a Postgres that stops answering would hold every request. Failure policy,
    with a deadline D = acquire_timeout and C = command_timeout:

    - acquiring (connecting a new connection included) raises TimeoutError after D;
    - a statement raises TimeoutError after C; asyncpg then asks Postgres to cancel it, and
      the connection, when released, waits up to D for the cancel to be confirmed before it
      is closed (asyncpg uses the acquire timeout for the release);
    - inside a transaction, the ROLLBACK that follows waits up to C for that confirmation,
      then closes the connection.

    So one statement costs a caller at most about D + 2C before it sees the error.
    """

    __slots__ = ("_acquire_timeout",)

    def __init__(self, *args: Any, acquire_timeout: float | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._acquire_timeout = acquire_timeout

    def acquire(self, *, timeout: float | None = None) -> Any:
        return super().acquire(timeout=self._acquire_timeout if timeout is None else timeout)


def make_pool(
    dsn: str,
    *,
    min_size: int,
    max_size: int,
    command_timeout: float | None = 30,
    acquire_timeout: float | None = None,
) -> asyncpg.Pool:
    """A pool not yet connected: `await pool` opens it (so it can be built synchronously).

    `command_timeout` bounds each statement and `acquire_timeout` each wait for a connection
    (None: no bound; see DeadlinePool for what a timeout costs)."""
    return DeadlinePool(
        dsn,
        acquire_timeout=acquire_timeout,
        min_size=min_size,
        max_size=max_size,
        max_queries=50000,
        max_inactive_connection_lifetime=300.0,
        init=_init_connection,
        reset=_keep_session,
        loop=None,
        connection_class=asyncpg.Connection,
        record_class=asyncpg.Record,
        command_timeout=command_timeout,
    )


async def create_pool(dsn: str, *, min_size: int, max_size: int) -> asyncpg.Pool:
    pool = await make_pool(dsn, min_size=min_size, max_size=max_size)
    assert pool is not None
    return pool


# Tables whose rows migrations write (the migration record, reference data): never emptied.
KEPT_TABLES = ["schema_migrations", "categories"]


async def truncate_all(conn: asyncpg.Connection) -> None:
    """Empty every table but KEPT_TABLES (tests and `seed --reset`)."""
    tables = await conn.fetch(
        """SELECT quote_ident(tablename) AS name FROM pg_tables
           WHERE schemaname = 'public' AND tablename <> ALL($1::text[])""",
        KEPT_TABLES,
    )
    if tables:
        names = ", ".join(row["name"] for row in tables)
        await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


def contains_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its own `%`, `_` and `\\` taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
