"""Users: accounts, roles, profile counters and settings."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from core.errors import Conflict, NotFound
from storage.db import Conn, contains_pattern


@dataclass(frozen=True, slots=True)
class User:
    id: uuid.UUID
    username: str
    email: str
    password_hash: str
    display_name: str
    avatar_url: str
    bio: str
    verified: bool
    role: str
    follower_count: int
    following_count: int
    total_views: int
    total_videos: int
    total_likes_received: int
    settings: dict[str, Any]
    email_verified: bool
    created_at: datetime
    updated_at: datetime
    last_login: datetime | None
    disabled_at: datetime | None

    def claims(self) -> dict[str, Any]:
        """What an access token carries about its user (CLUTCH's JWT structure)."""
        return {
            "id": str(self.id),
            "username": self.username,
            "email": self.email,
            "display_name": self.display_name,
            "avatar_url": self.avatar_url,
            "role": self.role,
        }


_COLUMNS = ", ".join(User.__slots__)

# The placeholder author of erased accounts' comments that others replied to (migration 0051).
PLACEHOLDER_ID = uuid.UUID(int=0)

# Which unique index a violation came from tells the client which field to fix.
_UNIQUE_FIELDS = {"users_username_key": "username", "users_email_key": "email"}


def _user(row: asyncpg.Record) -> User:
    return User(**dict(row))


def _conflict(exc: asyncpg.UniqueViolationError) -> Conflict:
    field = _UNIQUE_FIELDS.get(exc.constraint_name or "", "username")
    return Conflict(
        f"An account with this {field} already exists",
        field_errors={field: [f"This {field} is already taken"]},
    )


async def create(
    conn: Conn,
    *,
    username: str,
    email: str,
    password_hash: str,
    display_name: str,
    avatar_url: str,
    role: str = "user",
) -> User:
    try:
        row = await conn.fetchrow(
            f"""INSERT INTO users (username, email, password_hash, display_name, avatar_url, role,
                                   last_login)
                VALUES ($1, $2, $3, $4, $5, $6, now())
                RETURNING {_COLUMNS}""",
            username, email, password_hash, display_name, avatar_url, role,
        )  # fmt: skip
    except asyncpg.UniqueViolationError as exc:
        raise _conflict(exc) from exc
    assert row is not None
    return _user(row)


async def get(conn: Conn, user_id: uuid.UUID) -> User:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM users WHERE id = $1", user_id)
    if row is None:
        raise NotFound("User not found")
    return _user(row)


async def find_by_login(conn: Conn, login: str) -> User | None:
    """The account whose username or email is `login`, case-insensitively."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM users"
        " WHERE lower(username) = lower($1) OR lower(email) = lower($1) LIMIT 1",
        login,
    )
    return _user(row) if row else None


async def username_exists(conn: Conn, username: str) -> bool:
    return bool(
        await conn.fetchval("SELECT 1 FROM users WHERE lower(username) = lower($1)", username)
    )


async def record_login(conn: Conn, user_id: uuid.UUID, new_hash: str | None = None) -> None:
    """Stamp last_login; store a re-hashed password when the hashing parameters were raised."""
    await conn.execute(
        "UPDATE users SET last_login = now(), password_hash = coalesce($2, password_hash)"
        " WHERE id = $1",
        user_id, new_hash,
    )  # fmt: skip


async def upsert_admin(
    conn: Conn,
    *,
    username: str,
    email: str,
    password_hash: str,
    avatar_url: str,
) -> User:
    """Create the bootstrap admin, or make the existing account an admin with this password."""
    row = await conn.fetchrow(
        f"""INSERT INTO users (username, email, password_hash, display_name, avatar_url, role,
                               email_verified, verified)
            VALUES ($1, $2, $3, $1, $4, 'admin', true, true)
            ON CONFLICT (lower(username)) DO UPDATE
               SET password_hash = EXCLUDED.password_hash, role = 'admin', updated_at = now()
            RETURNING {_COLUMNS}""",
        username, email, password_hash, avatar_url,
    )  # fmt: skip
    assert row is not None
    return _user(row)


async def set_role(conn: Conn, user_id: uuid.UUID, role: str) -> None:
    """Change a user's role (admin tooling and tests); the next token they get carries it."""
    status = await conn.execute(
        "UPDATE users SET role = $2, updated_at = now() WHERE id = $1", user_id, role
    )
    if status == "UPDATE 0":
        raise NotFound("User not found")


async def search(
    conn: Conn, *, q: str | None = None, role: str | None = None, page: int = 1, limit: int = 20
) -> tuple[list[User], int]:
    """Accounts for admins, newest first: `q` matches username, email or display name
    (case-insensitive substring), `role` filters. Returns one page and the total."""
    where, args = ["true"], []
    if q:
        args.append(contains_pattern(q))
        n = len(args)
        where.append(f"(username ILIKE ${n} OR email ILIKE ${n} OR display_name ILIKE ${n})")
    if role:
        args.append(role)
        where.append(f"role = ${len(args)}")
    clause = " AND ".join(where)
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM users WHERE {clause}
             ORDER BY created_at DESC, id DESC LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}""",
        *args, limit, (page - 1) * limit,
    )  # fmt: skip
    total = await conn.fetchval(f"SELECT count(*) FROM users WHERE {clause}", *args)
    return [_user(row) for row in rows], int(total or 0)


async def set_password(conn: Conn, user_id: uuid.UUID, password_hash: str) -> None:
    await conn.execute(
        "UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1",
        user_id, password_hash,
    )  # fmt: skip


async def confirm_email(conn: Conn, user_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE users SET email_verified = true, updated_at = now() WHERE id = $1", user_id
    )


async def existing(conn: Conn, user_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of `user_ids` still have an account."""
    rows = await conn.fetch("SELECT id FROM users WHERE id = ANY($1::uuid[])", user_ids)
    return {row["id"] for row in rows}


async def set_disabled(conn: Conn, user_id: uuid.UUID, disabled: bool) -> None:
    """Disable (or enable again) an account."""
    status = await conn.execute(
        """UPDATE users SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, now()) END,
                            updated_at = now()
           WHERE id = $1""",
        user_id, disabled,
    )  # fmt: skip
    if status == "UPDATE 0":
        raise NotFound("User not found")
