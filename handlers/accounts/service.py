"""The rules of accounts: registration, sign-in, refresh-token rotation and sign-out.

Passwords are hashed with Argon2id in a thread pool (handlers/accounts/hashing.py). A failed
sign-in takes the same time whether or not the account exists (a dummy hash is verified,
core/passwords.py). Refresh tokens rotate on every use; a rotated token that comes back
revokes its whole family. A new account gets a mail to confirm its address
(handlers/accounts/email_service.py), queued in the transaction that creates it.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass

import asyncpg

from core import passwords
from core.errors import Conflict, Forbidden, Unauthorized
from core.tokens import AccessClaims, TokenService, hash_token
from handlers.accounts.email_service import AccountEmails
from handlers.accounts.events import user_channel as user_channel  # for other domains
from handlers.accounts.hashing import hash_password, verify_password
from handlers.accounts.privacy import AccountPrivacy as AccountPrivacy  # for other domains
from storage.accounts import refresh_tokens, users
from storage.accounts.email_tokens import Purpose
from storage.accounts.refresh_tokens import RotationOutcome

DEFAULT_AVATAR_URL = "/static/avatars/default.svg"
LOGIN_FAILED = "Invalid login or password"


@dataclass(frozen=True, slots=True)
class Tokens:
    access_token: str
    refresh_token: str


@dataclass(frozen=True, slots=True)
class SignedIn:
    user: users.User
    tokens: Tokens


def username_from_email(email: str) -> str:
    local = re.sub(r"[^A-Za-z0-9_]", "_", email.split("@", 1)[0])[:20].strip("_") or "user"
    return local if len(local) >= 3 else f"{local}_user"


class AccountService:
    def __init__(self, *, db: asyncpg.Pool, tokens: TokenService, emails: AccountEmails) -> None:
        self.db = db
        self.tokens = tokens
        self.emails = emails

    async def _create(self, **fields: str) -> users.User:
        """Insert an account and queue the mail that confirms its address, in one transaction."""
        async with self.db.acquire() as conn, conn.transaction():
            user = await users.create(conn, **fields)
            await self.emails.issue(
                conn, user_id=user.id, email=user.email, purpose=Purpose.verify_email
            )
        return user

    async def register(
        self, *, username: str, email: str, password: str, display_name: str | None
    ) -> SignedIn:
        user = await self._create(
            username=username,
            email=email,
            password_hash=await hash_password(password),
            display_name=display_name or username,
            avatar_url=DEFAULT_AVATAR_URL,
        )
        return SignedIn(user, await self._issue(user))

    async def sign_up(
        self, *, email: str, password: str, username: str | None, display_name: str | None
    ) -> SignedIn:
        """The torrent app's sign-up: a username is derived from the email when not given."""
        password_hash = await hash_password(password)
        base = username or username_from_email(email)
        candidates = [base] + (
            [] if username else [f"{base[:24]}_{secrets.token_hex(2)}" for _ in range(5)]
        )
        for candidate in candidates:
            try:
                user = await self._create(
                    username=candidate,
                    email=email,
                    password_hash=password_hash,
                    display_name=display_name or candidate,
                    avatar_url=DEFAULT_AVATAR_URL,
                )
            except Conflict as exc:
                if "username" in exc.field_errors and candidate is not candidates[-1]:
                    continue  # derived name taken: try the next candidate
                raise
            return SignedIn(user, await self._issue(user))
        raise Conflict("Could not find a free username")  # pragma: no cover - 6 collisions

    async def login(self, *, login: str, password: str) -> SignedIn:
        """Sign in with a username or an email."""
        user = await users.find_by_login(self.db, login)
        # Verified even when no account exists, so timing does not reveal which logins exist.
        ok = await verify_password(user.password_hash if user else None, password)
        if user is None or not ok:
            raise Unauthorized(LOGIN_FAILED)
        if user.disabled_at is not None:
            raise Forbidden("This account is disabled", details={"reason": "account_disabled"})
        rehash = (
            await hash_password(password) if passwords.needs_rehash(user.password_hash) else None
        )
        await users.record_login(self.db, user.id, rehash)
        return SignedIn(user, await self._issue(user))

    async def refresh(self, refresh_token: str) -> Tokens:
        """Exchange a refresh token for a new pair; the old one stops working."""
        claims = self.tokens.decode_refresh(refresh_token)
        successor = self.tokens.issue_refresh(claims.user_id, family_id=claims.family_id)
        rotation = await refresh_tokens.rotate(
            self.db,
            token_hash=hash_token(refresh_token),
            new_token_id=successor.token_id,
            new_token_hash=successor.token_hash,
            new_expires_at=successor.expires_at,
        )
        if rotation.outcome is RotationOutcome.reused:
            raise Unauthorized(
                "Refresh token was already used; all sessions from it are revoked",
                details={"reason": "token_reused"},
            )
        if rotation.outcome is RotationOutcome.revoked:
            raise Unauthorized(
                "Refresh token was revoked (signed out); sign in again",
                details={"reason": "token_revoked"},
            )
        if rotation.outcome is not RotationOutcome.rotated or rotation.user_id is None:
            raise Unauthorized("Invalid refresh token", details={"reason": rotation.outcome.value})
        user = await users.get(self.db, rotation.user_id)
        if user.disabled_at is not None:
            raise Forbidden("This account is disabled", details={"reason": "account_disabled"})
        return Tokens(self.tokens.issue_access(user.claims()), successor.token)

    async def logout(self, refresh_token: str) -> None:
        """Revoke a refresh token and its family. Idempotent: an unknown token still ends
        signed out."""
        await refresh_tokens.revoke_by_hash(self.db, hash_token(refresh_token))

    async def me(self, viewer: AccessClaims) -> users.User:
        return await users.get(self.db, uuid.UUID(viewer.user_id))

    async def list_users(
        self, *, q: str | None, role: str | None, page: int, limit: int
    ) -> tuple[list[users.User], int]:
        """Accounts matching `q` (username, email, display name) and `role`, newest first."""
        return await users.search(self.db, q=q, role=role, page=page, limit=limit)

    async def set_role(self, user_id: uuid.UUID, role: str, *, by: AccessClaims) -> users.User:
        """An admin changes a user's role. Tokens already issued keep their role until they
        expire (ACCESS_TOKEN_EXPIRE_MINUTES); the next refresh carries the new one."""
        if by.role != "admin":
            raise Forbidden("Only admins can change roles")
        if str(user_id) == by.user_id:
            raise Conflict("Administrators cannot change their own role; ask another administrator")
        await users.set_role(self.db, user_id, role)
        return await users.get(self.db, user_id)

    async def ensure_admin(self, *, username: str, email: str, password: str) -> None:
        """Create or update this admin account (OnStream's ADMIN_USERNAME/ADMIN_PASSWORD)."""
        await users.upsert_admin(
            self.db,
            username=username,
            email=email,
            password_hash=await hash_password(password),
            avatar_url=DEFAULT_AVATAR_URL,
        )

    async def _issue(self, user: users.User) -> Tokens:
        refresh = self.tokens.issue_refresh(str(user.id))
        await refresh_tokens.insert(
            self.db,
            token_id=refresh.token_id,
            family_id=refresh.family_id,
            user_id=user.id,
            token_hash=refresh.token_hash,
            expires_at=refresh.expires_at,
        )
        return Tokens(self.tokens.issue_access(user.claims()), refresh.token)

    async def set_disabled(self, user_id: uuid.UUID, disabled: bool, *, by: AccessClaims) -> None:
        """An admin disables (or enables) an account: no sign-in, no refresh; its sessions'
        refresh tokens are revoked (access tokens end with their short lifetime)."""
        if by.role != "admin":
            raise Forbidden("Only admins can disable accounts")
        if str(user_id) == by.user_id:
            raise Conflict("Administrators cannot disable themselves")
        async with self.db.acquire() as conn, conn.transaction():
            await users.set_disabled(conn, user_id, disabled)
            if disabled:
                await refresh_tokens.revoke_all(conn, user_id)
