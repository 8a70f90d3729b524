"""API keys for machines (the scraper's ingest): created by admins and shown once, stored as a
SHA-256 (a key is 32 random bytes, so a fast hash suffices), scoped, revocable, with the time
each was last used."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

import asyncpg

from core.errors import Forbidden
from core.roles import ADMIN
from core.tokens import AccessClaims, hash_token
from storage.apikeys import keys
from storage.apikeys.keys import ApiKey

KEY_PREFIX = "shk_"


@dataclass(frozen=True, slots=True)
class NewKey:
    key: ApiKey
    secret: str  # the only time it is seen


def _admin(caller: AccessClaims) -> None:
    if caller.role != ADMIN:
        raise Forbidden("Only administrators manage API keys")


class ApiKeyService:
    def __init__(self, *, db: asyncpg.Pool) -> None:
        self.db = db

    async def create(self, caller: AccessClaims, *, name: str, scopes: list[str]) -> NewKey:
        _admin(caller)
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key = await keys.create(
            self.db,
            name=name,
            prefix=secret[: len(KEY_PREFIX) + 6],
            key_hash=hash_token(secret),
            scopes=scopes,
            created_by=uuid.UUID(caller.user_id),
        )
        return NewKey(key, secret)

    async def list(self, caller: AccessClaims) -> list[ApiKey]:
        _admin(caller)
        return await keys.list_all(self.db)

    async def revoke(self, caller: AccessClaims, key_id: uuid.UUID) -> ApiKey:
        _admin(caller)
        return await keys.revoke(self.db, key_id)

    async def check(self, secret: str, scope: str) -> str | None:
        """The id of the live key `secret` with `scope`, or None (the HTTP kit's check)."""
        if not secret.startswith(KEY_PREFIX) or len(secret) > 200:
            return None
        key_id = await keys.use(self.db, key_hash=hash_token(secret), scope=scope)
        return str(key_id) if key_id is not None else None
