"""The accounts domain's background work: sending the mail of email tokens, pruning old ones."""

from __future__ import annotations

import uuid
from typing import Any

from handlers.accounts.email_service import SEND_EMAIL_TOKEN, AccountEmails
from jobs.context import JobContext
from jobs.registry import JobKind

PRUNE_EMAIL_TOKENS = "accounts.prune_email_tokens"
# Expired tokens are kept this long (a user who reports "my link did not work" can be told why).
EXPIRED_TOKEN_RETENTION_S = 7 * 86400.0


def send_email_token_kind(
    *, emails: AccountEmails, retry_base_seconds: float, timeout_seconds: float
) -> JobKind:
    """One mail per token; a failed delivery is retried with exponential backoff (the number
    of attempts is set per job at enqueue: MAIL_MAX_ATTEMPTS). Retrying is safe: the message
    keeps its Message-ID, and a token already used is not mailed again."""

    async def send(ctx: JobContext, payload: Any) -> None:
        outcome = await emails.deliver(uuid.UUID(payload["token_id"]))
        await ctx.progress(100, outcome)

    return JobKind(
        name=SEND_EMAIL_TOKEN,
        handler=send,
        backoff_base_seconds=retry_base_seconds,
        backoff_max_seconds=max(retry_base_seconds, 1800.0),
        timeout_seconds=timeout_seconds,
    )


def prune_email_tokens_kind(*, emails: AccountEmails, every_seconds: float = 3600.0) -> JobKind:
    async def prune(ctx: JobContext, _payload: Any) -> None:
        removed = await emails.prune(older_than_seconds=EXPIRED_TOKEN_RETENTION_S)
        await ctx.progress(100, f"{removed} expired tokens removed")

    return JobKind(
        name=PRUNE_EMAIL_TOKENS, handler=prune, every_seconds=every_seconds, max_attempts=1
    )
