"""Server-side record of refresh tokens: rotation on every use, reuse detection by family."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from storage.db import Conn


class RotationOutcome(enum.Enum):
    rotated = "rotated"
    unknown = "unknown"  # never issued by us, or already cleaned up
    reused = "reused"  # a rotated token came back: its family is now revoked
    revoked = "revoked"  # a token of a revoked family (signed out, or reuse detected before)
    expired = "expired"


@dataclass(frozen=True, slots=True)
class Rotation:
    outcome: RotationOutcome
    user_id: uuid.UUID | None = None


async def insert(
    conn: Conn,
    *,
    token_id: str,
    family_id: str,
    user_id: uuid.UUID,
    token_hash: str,
    expires_at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at)
           VALUES ($1, $2, $3, $4, $5)""",
        uuid.UUID(token_id), uuid.UUID(family_id), user_id, token_hash, expires_at,
    )  # fmt: skip


async def rotate(
    pool: asyncpg.Pool,
    *,
    token_hash: str,
    new_token_id: str,
    new_token_hash: str,
    new_expires_at: datetime,
) -> Rotation:
    """Mark the presented token used and record its successor in the same family.

    The row is locked, so two concurrent uses of one token cannot both succeed: the second
    sees `rotated_at` set and is treated as reuse, which revokes the family.
    """
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            """SELECT id, family_id, user_id, expires_at, rotated_at, revoked_at,
                      expires_at <= now() AS expired
               FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE""",
            token_hash,
        )
        if row is None:
            return Rotation(RotationOutcome.unknown)
        if row["rotated_at"] is not None or row["revoked_at"] is not None:
            # Revoked again in both cases: a successor made while the family was being revoked
            # (a refresh racing a logout) goes too.
            await _revoke_family(conn, row["family_id"])
            reused = row["rotated_at"] is not None
            outcome = RotationOutcome.reused if reused else RotationOutcome.revoked
            return Rotation(outcome, row["user_id"])
        if row["expired"]:
            return Rotation(RotationOutcome.expired, row["user_id"])
        await conn.execute("UPDATE refresh_tokens SET rotated_at = now() WHERE id = $1", row["id"])
        await conn.execute(
            """INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at)
               VALUES ($1, $2, $3, $4, $5)""",
            uuid.UUID(new_token_id), row["family_id"], row["user_id"], new_token_hash,
            new_expires_at,
        )  # fmt: skip
        return Rotation(RotationOutcome.rotated, row["user_id"])


async def _revoke_family(conn: Conn, family_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
        family_id,
    )


async def revoke_by_hash(conn: Conn, token_hash: str) -> bool:
    """Revoke the family of the token with this hash; False when no such token exists."""
    family_id = await conn.fetchval(
        "SELECT family_id FROM refresh_tokens WHERE token_hash = $1", token_hash
    )
    if family_id is None:
        return False
    await _revoke_family(conn, family_id)
    return True


async def revoke_all(conn: Conn, user_id: uuid.UUID) -> int:
    """Revoke every refresh token of an account (a password reset signs it out everywhere)."""
    status = await conn.execute(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
        user_id,
    )
    return int(status.split()[-1])
