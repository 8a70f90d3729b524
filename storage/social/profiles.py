"""Profile edits: what a user changes about themselves (the torrent app's PUT /api/users/me).

Reads use `storage.accounts.users.get`; this module only writes the self-editable fields.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from core.errors import NotFound
from storage.accounts import users


async def update(
    conn: asyncpg.Pool | asyncpg.Connection,
    user_id: uuid.UUID,
    *,
    display_name: str | None = None,
    bio: str | None = None,
    avatar_url: str | None = None,
    notifications: dict[str, Any] | None = None,
    privacy: dict[str, Any] | None = None,
) -> users.User:
    """Change the given fields; settings groups are merged key by key, in SQL, not replaced."""
    status = await conn.execute(
        """UPDATE users
              SET display_name = coalesce($2, display_name),
                  bio = coalesce($3, bio),
                  avatar_url = coalesce($4, avatar_url),
                  settings = settings || jsonb_build_object(
                      'notifications', coalesce(settings -> 'notifications', '{}') || $5::jsonb,
                      'privacy', coalesce(settings -> 'privacy', '{}') || $6::jsonb),
                  updated_at = now()
            WHERE id = $1""",
        user_id, display_name, bio, avatar_url, notifications or {}, privacy or {},
    )  # fmt: skip
    if status == "UPDATE 0":
        raise NotFound("User not found")
    return await users.get(conn, user_id)
