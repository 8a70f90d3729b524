"""Personal data (GDPR): erasing an account with everything personal, and exporting it.

Erasure asks for the password again (a stolen access token alone cannot erase an account),
runs in one transaction through storage/accounts/erasure.py (which keeps every counter
exact), then tells every node to close the account's sockets.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from channels.publisher import Publisher
from core.errors import Conflict, Forbidden
from core.roles import ADMIN
from core.tokens import AccessClaims
from handlers.accounts.events import ERASED_CHANNEL
from handlers.accounts.hashing import verify_password
from storage.accounts import erasure, users


class AccountPrivacy:
    def __init__(self, *, db: asyncpg.Pool, publisher: Publisher) -> None:
        self.db = db
        self.publisher = publisher

    async def erase(self, viewer: AccessClaims, password: str) -> None:
        user_id = uuid.UUID(viewer.user_id)
        account = await users.get(self.db, user_id)
        if not await verify_password(account.password_hash, password):
            # 403, not 401: the caller's token is fine, and a client must not sign out.
            raise Forbidden("Wrong password", field_errors={"password": ["Wrong password"]})
        await self._erase(user_id)

    async def erase_by_admin(self, user_id: uuid.UUID, *, by: AccessClaims) -> None:
        """An administrator erases someone else's account (the dashboard's delete)."""
        if by.role != ADMIN:
            raise Forbidden("Only administrators can erase other accounts")
        if str(user_id) == by.user_id:
            raise Conflict("Erase your own account with DELETE /api/users/me")
        await self._erase(user_id)

    async def _erase(self, user_id: uuid.UUID) -> None:
        await erasure.erase(self.db, user_id)
        await self.publisher.publish(ERASED_CHANNEL, {"type": "account_erased"})

    async def export(self, viewer: AccessClaims) -> dict[str, Any]:
        return await erasure.export(self.db, uuid.UUID(viewer.user_id))

    async def still_there(self, user_ids: set[str]) -> set[str]:
        """Of these user ids, the ones with an account (the realtime node's check)."""
        found = await users.existing(self.db, [uuid.UUID(u) for u in user_ids])
        return {str(user_id) for user_id in found}
