"""API keys (table `api_keys`, migration 0050): stored hashed, scoped, revocable."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from core.errors import NotFound
from storage.db import Conn


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    created_by: uuid.UUID | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


_COLUMNS = "id, name, prefix, scopes, created_by, created_at, last_used_at, revoked_at"


async def create(
    conn: Conn, *, name: str, prefix: str, key_hash: str, scopes: list[str], created_by: uuid.UUID
) -> ApiKey:
    row = await conn.fetchrow(
        f"""INSERT INTO api_keys (name, prefix, key_hash, scopes, created_by)
            VALUES ($1, $2, $3, $4, $5) RETURNING {_COLUMNS}""",
        name, prefix, key_hash, scopes, created_by,
    )  # fmt: skip
    assert row is not None
    return ApiKey(**dict(row))


async def use(conn: Conn, *, key_hash: str, scope: str) -> uuid.UUID | None:
    """The id of the live key with this hash and scope, stamping its last use; else None.
    The stamp moves at most once a minute, so a busy scraper does not write on every call."""
    value = await conn.fetchval(
        """WITH found AS (
               SELECT id, last_used_at FROM api_keys
               WHERE key_hash = $1 AND $2 = ANY(scopes) AND revoked_at IS NULL),
           stamped AS (
               UPDATE api_keys k SET last_used_at = now() FROM found
               WHERE k.id = found.id
                 AND (found.last_used_at IS NULL
                      OR found.last_used_at < now() - interval '1 minute'))
           SELECT id FROM found""",
        key_hash, scope,
    )  # fmt: skip
    return value if isinstance(value, uuid.UUID) else None


async def list_all(conn: Conn) -> list[ApiKey]:
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at DESC, id")
    return [ApiKey(**dict(row)) for row in rows]


async def revoke(conn: Conn, key_id: uuid.UUID) -> ApiKey:
    """Revoke a key (idempotent: a revoked key keeps its first revocation time)."""
    row = await conn.fetchrow(
        f"""UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1
            RETURNING {_COLUMNS}""",
        key_id,
    )
    if row is None:
        raise NotFound("API key not found")
    return ApiKey(**dict(row))
