"""The pages the links in account mail open work in a real browser: the token in the link
reaches the API, the outcome is shown, and the token leaves the address bar."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from handlers.accounts.email_service import AccountEmails
from server.app import DB, SERVICES
from storage.accounts import email_tokens
from storage.accounts.email_tokens import Purpose
from tests.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.timeout(120)


async def _token(client: Any, purpose: Purpose) -> tuple[str, str]:
    """Register an account and issue it a token of `purpose`, as the mail job would send it."""
    resp = await client.post(
        "/api/auth/register",
        json={"username": "pat", "email": "pat@example.com", "password": STRONG_PASSWORD},
    )
    user_id = (await resp.json())["user"]["id"]
    emails: AccountEmails = client.app[SERVICES].accounts.emails
    async with client.app[DB].acquire() as conn:
        await emails.issue(
            conn, user_id=uuid.UUID(user_id), email="pat@example.com", purpose=purpose
        )
    row = await client.app[DB].fetchrow(
        "SELECT id FROM email_tokens WHERE purpose = $1 ORDER BY created_at DESC LIMIT 1",
        purpose.value,
    )
    assert await email_tokens.get(client.app[DB], row["id"]) is not None
    return user_id, emails.token_for(row["id"])


async def test_the_reset_page_sets_a_new_password(client: Any, page: Any) -> None:
    _, token = await _token(client, Purpose.password_reset)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))  # script errors, not the 400
    await page.goto(str(client.make_url(f"/reset-password?token={token}")))
    assert "token" not in page.url  # taken out of the address bar and the history

    await page.fill("#password", "weak")
    await page.fill("#again", "weak")
    await page.click("#submit")
    await page.wait_for_selector("#status.bad")
    assert "uppercase" in await page.inner_text("#status")  # the API's field error, shown

    await page.fill("#password", "N3wPassword!")
    await page.fill("#again", "N3wPassword!")
    await page.click("#submit")
    await page.wait_for_selector("#status.ok")
    assert "password is changed" in await page.inner_text("#status")
    login = await client.post("/api/auth/login", json={"login": "pat", "password": "N3wPassword!"})
    assert login.status == 200
    assert not errors, errors


async def test_the_verify_page_confirms_and_reports_a_used_link(client: Any, page: Any) -> None:
    user_id, token = await _token(client, Purpose.verify_email)
    await page.goto(str(client.make_url(f"/verify-email?token={token}")))
    await page.wait_for_selector("#status.ok")
    assert "pat@example.com is confirmed" in await page.inner_text("#status")
    verified = await client.app[DB].fetchval(
        "SELECT email_verified FROM users WHERE id = $1", uuid.UUID(user_id)
    )
    assert verified is True
    await page.goto(str(client.make_url(f"/verify-email?token={token}")))
    await page.wait_for_selector("#status.bad")
    assert "already used" in await page.inner_text("#status")
