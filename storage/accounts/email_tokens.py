"""Single-use tokens sent by mail (table `email_tokens`, migration 0030)."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime

from storage.db import Conn


class Purpose(enum.StrEnum):
    verify_email = "verify_email"
    password_reset = "password_reset"


class Redemption(enum.Enum):
    redeemed = "redeemed"
    unknown = "unknown"  # no such token (mistyped, or of another purpose)
    used = "used"  # redeemed before: each token works once
    expired = "expired"
    stale = "stale"  # the account's email changed since the token was sent


@dataclass(frozen=True, slots=True)
class EmailToken:
    id: uuid.UUID
    user_id: uuid.UUID
    purpose: Purpose
    email: str
    expires_at: datetime
    used_at: datetime | None
    # The account as it is now: the name to greet, and whether the address still matches.
    display_name: str
    current_email: str


@dataclass(frozen=True, slots=True)
class Redeemed:
    outcome: Redemption
    user_id: uuid.UUID | None = None


async def insert(
    conn: Conn,
    *,
    token_id: uuid.UUID,
    user_id: uuid.UUID,
    purpose: Purpose,
    email: str,
    token_hash: str,
    ttl_seconds: float,
) -> None:
    await conn.execute(
        """INSERT INTO email_tokens (id, user_id, purpose, email, token_hash, expires_at)
           VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))""",
        token_id, user_id, purpose.value, email, token_hash, ttl_seconds,
    )  # fmt: skip


async def get(conn: Conn, token_id: uuid.UUID) -> EmailToken | None:
    row = await conn.fetchrow(
        """SELECT t.id, t.user_id, t.purpose, t.email, t.expires_at, t.used_at,
                  u.display_name, u.email AS current_email
           FROM email_tokens t JOIN users u ON u.id = t.user_id
           WHERE t.id = $1""",
        token_id,
    )
    if row is None:
        return None
    values = dict(row)
    values["purpose"] = Purpose(values["purpose"])
    return EmailToken(**values)


async def recent_count(
    conn: Conn, *, user_id: uuid.UUID, purpose: Purpose, within_seconds: float
) -> int:
    count = await conn.fetchval(
        """SELECT count(*) FROM email_tokens
           WHERE user_id = $1 AND purpose = $2
             AND created_at > now() - make_interval(secs => $3)""",
        user_id, purpose.value, within_seconds,
    )  # fmt: skip
    return int(count)


async def redeem(
    conn: Conn, *, token_hash: str, purpose: Purpose, user_id: uuid.UUID | None = None
) -> Redeemed:
    """Use the token with this hash, once. Its row is locked, so of two concurrent uses one
    redeems and the other finds it used. With `user_id`, a token of another account counts
    as unknown. Redeeming a reset token spends every other reset token of the account too."""
    row = await conn.fetchrow(
        """SELECT t.id, t.user_id, t.email, t.used_at, t.expires_at <= now() AS expired,
                  lower(u.email) = lower(t.email) AS current
           FROM email_tokens t JOIN users u ON u.id = t.user_id
           WHERE t.token_hash = $1 AND t.purpose = $2
           FOR UPDATE OF t""",
        token_hash, purpose.value,
    )  # fmt: skip
    if row is None or (user_id is not None and row["user_id"] != user_id):
        return Redeemed(Redemption.unknown)
    if row["used_at"] is not None:
        return Redeemed(Redemption.used, row["user_id"])
    if row["expired"]:
        return Redeemed(Redemption.expired, row["user_id"])
    if not row["current"]:
        return Redeemed(Redemption.stale, row["user_id"])
    if purpose is Purpose.password_reset:
        await conn.execute(
            """UPDATE email_tokens SET used_at = now()
               WHERE user_id = $1 AND purpose = 'password_reset' AND used_at IS NULL""",
            row["user_id"],
        )
    else:
        await conn.execute("UPDATE email_tokens SET used_at = now() WHERE id = $1", row["id"])
    return Redeemed(Redemption.redeemed, row["user_id"])


async def owner(conn: Conn, *, token_hash: str, purpose: Purpose) -> uuid.UUID | None:
    """Whose token this is (None: no such token), without using it."""
    value = await conn.fetchval(
        "SELECT user_id FROM email_tokens WHERE token_hash = $1 AND purpose = $2",
        token_hash, purpose.value,
    )  # fmt: skip
    return value if isinstance(value, uuid.UUID) else None


async def delete_expired(conn: Conn, *, older_than_seconds: float, limit: int = 10_000) -> int:
    """Drop tokens expired more than `older_than_seconds` ago (kept a while for support)."""
    status = await conn.execute(
        """DELETE FROM email_tokens WHERE id IN (
               SELECT id FROM email_tokens
               WHERE expires_at < now() - make_interval(secs => $1) LIMIT $2)""",
        older_than_seconds, limit,
    )  # fmt: skip
    return int(status.split()[-1])
