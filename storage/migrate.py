"""Versioned SQL migrations, applied in order under a Postgres advisory lock.

Files are `storage/migrations/NNNN_name.sql`. Each runs in its own transaction and is recorded
in `schema_migrations`. Several nodes may start at once: the advisory lock serialises them, and
whoever gets it second finds the versions already recorded and applies nothing, so each file
runs exactly once. A file whose checksum changed after it was applied stops the node: editing
a shipped migration is a bug, not an upgrade.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import asyncpg

log = logging.getLogger("streamhub.migrate")

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# An arbitrary constant: every node must use the same key to serialise on it.
ADVISORY_LOCK_KEY = 0x5354_4D48  # "STMH"


class MigrationError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        prefix, _, name = path.stem.partition("_")
        if not prefix.isdigit():
            raise MigrationError(f"migration file {path.name} must start with a number")
        migrations.append(Migration(int(prefix), name, path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a version number")
    return migrations


_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


async def apply_pending(
    conn: asyncpg.Connection, migrations: list[Migration] | None = None
) -> list[int]:
    """Apply every migration not yet recorded; return the versions this call applied."""
    migrations = discover() if migrations is None else migrations
    applied_now: list[int] = []
    await conn.execute("SELECT pg_advisory_lock($1)", ADVISORY_LOCK_KEY)
    try:
        await conn.execute(_CREATE_TABLE)
        rows = await conn.fetch("SELECT version, checksum FROM schema_migrations")
        recorded = {row["version"]: row["checksum"] for row in rows}
        for migration in migrations:
            if migration.version in recorded:
                if recorded[migration.version] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.version} ({migration.name}) changed after it "
                        "was applied; add a new migration instead"
                    )
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version, migration.name, migration.checksum,
                )  # fmt: skip
            applied_now.append(migration.version)
            log.info(
                "migration applied",
                extra={"version": migration.version, "migration": migration.name},
            )
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK_KEY)
    return applied_now


async def pending_versions(conn: asyncpg.Connection) -> list[int]:
    """Versions on disk that the database has not recorded (empty when fully migrated)."""
    known = {m.version for m in discover()}
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return sorted(known)
    rows = await conn.fetch("SELECT version FROM schema_migrations")
    return sorted(known - {row["version"] for row in rows})
