"""Accounts by email: confirming an address and resetting a forgotten password.

A token sent by mail is `base64url(HMAC-SHA256(key, row id))`, the key derived from the
server's secret. The database keeps only the token's SHA-256, and the mail job's payload names
the row, so neither the table nor the job queue holds a usable token; the job re-derives it
when it renders the message. The row, the job and (for a new account) the user are written in
one transaction: a committed account always has its mail queued, and a rolled-back one none.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import uuid
from dataclasses import dataclass

import asyncpg

from core.errors import DomainError, Forbidden
from core.tokens import AccessClaims, hash_token
from handlers.accounts.hashing import hash_password
from handlers.mail.service import Letter, MailService
from storage import jobs
from storage.accounts import email_tokens, refresh_tokens, users
from storage.accounts.email_tokens import Purpose, Redemption
from storage.db import Conn

log = logging.getLogger("streamhub.accounts")

SEND_EMAIL_TOKEN = "accounts.send_email_token"
HOUR_S = 3600.0


class InvalidToken(DomainError):
    status = 400
    code = "INVALID_TOKEN"
    default_message = "This link is not valid"


_REFUSALS = {
    Redemption.unknown: "This link is not valid: copy the whole link from the message",
    Redemption.used: "This link was already used: each link works once",
    Redemption.expired: "This link has expired: ask for a new one",
    Redemption.stale: "This link was sent to an address the account no longer uses",
}


def _refused(outcome: Redemption) -> InvalidToken:
    return InvalidToken(
        _REFUSALS[outcome],
        details={"reason": outcome.value},
        field_errors={"token": [_REFUSALS[outcome]]},
    )


@dataclass(frozen=True, slots=True)
class EmailPolicy:
    verification_ttl_s: float
    reset_ttl_s: float
    resets_per_hour: int
    # Where links point, with `{token}` in place of the token.
    verify_link: str
    reset_link: str
    mail_max_attempts: int


class AccountEmails:
    def __init__(
        self, *, db: asyncpg.Pool, secret: str, mail: MailService, policy: EmailPolicy
    ) -> None:
        self.db = db
        self.mail = mail
        self.policy = policy
        self._key = hmac.new(secret.encode(), b"streamhub email tokens", hashlib.sha256).digest()

    def token_for(self, token_id: uuid.UUID) -> str:
        digest = hmac.new(self._key, token_id.bytes, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    async def issue(self, conn: Conn, *, user_id: uuid.UUID, email: str, purpose: Purpose) -> None:
        """Create a token and queue its mail, in the caller's transaction."""
        token_id = uuid.uuid4()
        ttl = (
            self.policy.verification_ttl_s
            if purpose is Purpose.verify_email
            else self.policy.reset_ttl_s
        )
        await email_tokens.insert(
            conn,
            token_id=token_id,
            user_id=user_id,
            purpose=purpose,
            email=email,
            token_hash=hash_token(self.token_for(token_id)),
            ttl_seconds=ttl,
        )
        await jobs.enqueue(
            conn,
            kind=SEND_EMAIL_TOKEN,
            payload={"token_id": str(token_id)},
            max_attempts=self.policy.mail_max_attempts,
        )

    async def deliver(self, token_id: uuid.UUID) -> str:
        """Send the mail of a token (the job's work). Returns what happened, for the job."""
        token = await email_tokens.get(self.db, token_id)
        if token is None:
            return "nothing to send: the account was deleted"
        if token.used_at is not None:
            return "nothing to send: the link was already used"
        template = (
            self.policy.verify_link
            if token.purpose is Purpose.verify_email
            else (self.policy.reset_link)
        )
        sent = await self.mail.send(
            Letter(
                template=token.purpose.value,
                to=token.email,
                message_id=str(token.id),
                values={
                    "name": token.display_name,
                    "email": token.email,
                    "link": template.replace("{token}", self.token_for(token.id)),
                    "expires_at": token.expires_at,
                },
            )
        )
        return "sent" if sent else "refused by the mail server"

    async def resend_verification(self, viewer: AccessClaims) -> bool:
        """Send a new confirmation link; False when there is nothing to confirm. At most
        `resets_per_hour` links an hour (beyond that the answer is the same, no mail)."""
        user_id = uuid.UUID(viewer.user_id)
        async with self.db.acquire() as conn, conn.transaction():
            user = await users.get(conn, user_id)
            if user.email_verified:
                return False
            recent = await email_tokens.recent_count(
                conn, user_id=user_id, purpose=Purpose.verify_email, within_seconds=HOUR_S
            )
            if recent < self.policy.resets_per_hour:
                await self.issue(
                    conn, user_id=user_id, email=user.email, purpose=Purpose.verify_email
                )
        return True

    async def confirm_email(self, token: str, viewer: AccessClaims | None) -> users.User:
        """Redeem a confirmation link. Signed in as someone else, it is refused (403) and
        stays unused: the address is confirmed by its owner's session or by no session."""
        async with self.db.acquire() as conn, conn.transaction():
            redeemed = await email_tokens.redeem(
                conn, token_hash=hash_token(token), purpose=Purpose.verify_email
            )
            if viewer is not None and redeemed.user_id not in (None, uuid.UUID(viewer.user_id)):
                raise Forbidden(
                    "This link confirms another account's address: sign out, or open it"
                    " where that account is signed in",
                    details={"reason": "other_account"},
                )
            if redeemed.outcome is not Redemption.redeemed or redeemed.user_id is None:
                raise _refused(redeemed.outcome)
            await users.confirm_email(conn, redeemed.user_id)
            return await users.get(conn, redeemed.user_id)

    async def request_password_reset(self, email: str) -> None:
        """Mail a reset link when an account has this address; otherwise do nothing. The
        caller answers the same either way, so the form does not tell who has an account."""
        async with self.db.acquire() as conn, conn.transaction():
            user = await users.find_by_login(conn, email)
            if user is None or user.email.lower() != email.lower():
                return
            recent = await email_tokens.recent_count(
                conn, user_id=user.id, purpose=Purpose.password_reset, within_seconds=HOUR_S
            )
            if recent >= self.policy.resets_per_hour:
                log.info("password reset not sent: hourly cap", extra={"user_id": str(user.id)})
                return
            await self.issue(
                conn, user_id=user.id, email=user.email, purpose=Purpose.password_reset
            )

    async def reset_password(self, token: str, new_password: str) -> None:
        """Set a new password with a reset link, once; every session of the account ends
        (its refresh tokens are revoked) and the address counts as confirmed."""
        password_hash = await hash_password(new_password)
        async with self.db.acquire() as conn, conn.transaction():
            redeemed = await email_tokens.redeem(
                conn, token_hash=hash_token(token), purpose=Purpose.password_reset
            )
            if redeemed.outcome is not Redemption.redeemed or redeemed.user_id is None:
                raise _refused(redeemed.outcome)
            await users.set_password(conn, redeemed.user_id, password_hash)
            await refresh_tokens.revoke_all(conn, redeemed.user_id)
            await users.confirm_email(conn, redeemed.user_id)

    async def prune(self, *, older_than_seconds: float) -> int:
        return await email_tokens.delete_expired(self.db, older_than_seconds=older_than_seconds)
