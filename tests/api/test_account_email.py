"""Accounts by email over real HTTP and real SMTP: confirming an address, resetting a password.

An SMTP server runs in the test process (aiosmtpd); the app's job worker delivers the mail
to it over a real connection, and the tests read the link out of the delivered message.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from devservices.stack import Engines
from server.app import DB, create_app
from server.config import Settings
from storage.accounts import email_tokens
from tests.conftest import STRONG_PASSWORD, make_settings
from tests.jobs_support import running_worker
from tests.mail_support import SmtpServer, running_smtp, text_of, token_in
from tests.waiting import wait_for

V1 = "/api/v1"
NEW_PASSWORD = "N3wPassword!"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    yield from running_smtp()


@pytest.fixture
def settings(engines: Engines, smtp: SmtpServer) -> Settings:
    return make_settings(
        engines,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=smtp.port,
        SMTP_SECURITY="never",
        MAIL_RETRY_BASE_SECONDS=0.05,
        PUBLIC_BASE_URL="https://courses.example",
    )


@pytest.fixture
async def worker(client: TestClient) -> AsyncIterator[None]:
    async with running_worker(client.app):
        yield


async def register(client: TestClient, name: str) -> dict[str, Any]:
    resp = await client.post(
        "/api/auth/register",
        json={"username": name, "email": f"{name}@example.com", "password": STRONG_PASSWORD},
    )
    assert resp.status == 201, await resp.text()
    body: dict[str, Any] = await resp.json()
    body["headers"] = {"Authorization": f"Bearer {body['tokens']['access_token']}"}
    return body


async def me(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = await (await client.get(f"{V1}/users/me", headers=headers)).json()
    return body["user"]


async def verify(client: TestClient, token: str, headers: dict[str, str] | None = None) -> Any:
    return await client.post(f"{V1}/auth/verify-email", json={"token": token}, headers=headers)


async def test_registering_mails_a_link_that_confirms_the_address_once(
    client: TestClient, smtp: SmtpServer, worker: None
) -> None:
    alice = await register(client, "alice")
    assert (await me(client, alice["headers"]))["email_verified"] is False
    [message] = await smtp.inbox.wait_for("alice@example.com")
    assert message["Subject"] == "Confirm your email address"
    assert "https://courses.example/verify-email?token=" in text_of(message)
    token = token_in(message)
    # The database holds only a hash of the token.
    stored = await client.app[DB].fetchval("SELECT token_hash FROM email_tokens")
    assert token not in stored

    resp = await verify(client, token)
    assert resp.status == 200, await resp.text()
    assert await resp.json() == {
        "success": True,
        "message": "Email address confirmed",
        "email": "alice@example.com",
        "email_verified": True,
    }
    assert (await me(client, alice["headers"]))["email_verified"] is True

    again = await verify(client, token)
    assert again.status == 400
    error = (await again.json())["error"]
    assert error["code"] == "INVALID_TOKEN" and error["details"]["reason"] == "used"
    assert "token" in error["field_errors"]


async def test_a_link_for_another_account_is_refused_and_stays_usable(
    client: TestClient, smtp: SmtpServer, worker: None
) -> None:
    await register(client, "alice")
    bob = await register(client, "bob")
    token = token_in((await smtp.inbox.wait_for("alice@example.com"))[0])
    resp = await verify(client, token, headers=bob["headers"])
    assert resp.status == 403
    assert (await resp.json())["error"]["details"]["reason"] == "other_account"
    assert (await me(client, bob["headers"]))["email_verified"] is False
    # Not spent by the refusal: alice (or no session) can still use it.
    assert (await verify(client, token)).status == 200


async def test_expired_unknown_and_stale_links(
    client: TestClient, smtp: SmtpServer, worker: None
) -> None:
    alice = await register(client, "alice")
    token = token_in((await smtp.inbox.wait_for("alice@example.com"))[0])
    pool = client.app[DB]
    await pool.execute("UPDATE email_tokens SET expires_at = now() - interval '1 second'")
    resp = await verify(client, token)
    assert resp.status == 400 and (await resp.json())["error"]["details"]["reason"] == "expired"

    resp = await verify(client, token[:-2] + "xx")
    assert (await resp.json())["error"]["details"]["reason"] == "unknown"

    # A new link, then the account changes its address: the link confirms nothing.
    resp = await client.post(f"{V1}/auth/verify-email/resend", headers=alice["headers"])
    assert resp.status == 202
    fresh = token_in((await smtp.inbox.wait_for("alice@example.com", 2))[1])
    await pool.execute("UPDATE users SET email = 'alice2@example.com'")
    resp = await verify(client, fresh)
    assert (await resp.json())["error"]["details"]["reason"] == "stale"
    assert (await me(client, alice["headers"]))["email_verified"] is False


async def test_password_reset_sets_a_new_password_once_and_signs_out_everywhere(
    client: TestClient, smtp: SmtpServer, worker: None
) -> None:
    alice = await register(client, "alice")
    await smtp.inbox.wait_for("alice@example.com")  # the confirmation mail
    unknown = await client.post(f"{V1}/auth/password-reset", json={"email": "nobody@example.com"})
    known = await client.post(f"{V1}/auth/password-reset", json={"email": "ALICE@example.com"})
    assert unknown.status == known.status == 202
    assert await unknown.json() == await known.json()  # nothing tells who has an account

    message = (await smtp.inbox.wait_for("alice@example.com", 2))[1]
    assert message["Subject"] == "Reset your password"
    assert "https://courses.example/reset-password?token=" in text_of(message)
    token = token_in(message)
    confirm = f"{V1}/auth/password-reset/confirm"

    weak = await client.post(confirm, json={"token": token, "new_password": "short"})
    assert weak.status == 400
    assert "new_password" in (await weak.json())["error"]["field_errors"]

    resp = await client.post(confirm, json={"token": token, "new_password": NEW_PASSWORD})
    assert resp.status == 200, await resp.text()
    login = {"login": "alice", "password": STRONG_PASSWORD}
    assert (await client.post("/api/auth/login", json=login)).status == 401
    login["password"] = NEW_PASSWORD
    assert (await client.post("/api/auth/login", json=login)).status == 200
    # Every refresh token issued before the reset is revoked.
    resp = await client.post(
        "/api/auth/refresh", json={"refresh_token": alice["tokens"]["refresh_token"]}
    )
    assert resp.status == 401
    # The link has done its work: a second use is refused and changes nothing.
    again = await client.post(confirm, json={"token": token, "new_password": "An0therOne"})
    assert again.status == 400
    assert (await again.json())["error"]["details"]["reason"] == "used"
    assert (await client.post("/api/auth/login", json=login)).status == 200
    # Receiving the mail proved the address.
    assert (await me(client, alice["headers"]))["email_verified"] is True


async def test_expired_reset_link_and_hourly_cap(
    client: TestClient, smtp: SmtpServer, worker: None
) -> None:
    await register(client, "alice")
    for _ in range(5):
        resp = await client.post(f"{V1}/auth/password-reset", json={"email": "alice@example.com"})
        assert resp.status == 202
    # PASSWORD_RESETS_PER_HOUR (3): the other requests were answered alike and sent nothing.
    pool = client.app[DB]
    issued = await pool.fetchval(
        "SELECT count(*) FROM email_tokens WHERE purpose = 'password_reset'"
    )
    assert issued == 3
    mails = await smtp.inbox.wait_for("alice@example.com", 4)  # confirmation + 3 resets
    await pool.execute("UPDATE email_tokens SET expires_at = now() - interval '1 second'")
    resp = await client.post(
        f"{V1}/auth/password-reset/confirm",
        json={"token": token_in(mails[-1]), "new_password": NEW_PASSWORD},
    )
    assert resp.status == 400
    assert (await resp.json())["error"]["details"]["reason"] == "expired"


async def test_an_smtp_outage_delays_mail_and_loses_none(
    client: TestClient, smtp: SmtpServer, worker: None
) -> None:
    smtp.inbox.refuse = True
    await register(client, "alice")

    async def refused_twice() -> bool:  # refused, retried, refused again
        return smtp.inbox.refused >= 2

    await wait_for(refused_twice, message="two refused deliveries")
    job = await client.app[DB].fetchrow(
        "SELECT state, attempts, last_error FROM jobs WHERE kind = 'accounts.send_email_token'"
    )
    assert job["attempts"] >= 2 and "421" in job["last_error"]
    smtp.inbox.refuse = False
    [message] = await smtp.inbox.wait_for("alice@example.com")
    assert (await verify(client, token_in(message))).status == 200


async def test_without_smtp_mail_is_written_to_files(
    aiohttp_client: Any, engines: Engines, tmp_path: Path
) -> None:
    client = await aiohttp_client(create_app(make_settings(engines, MAIL_DIR=str(tmp_path))))
    async with running_worker(client.app):
        await register(client, "alice")

        async def written() -> bool:
            return bool(await asyncio.to_thread(lambda: list(tmp_path.glob("*.eml"))))

        await wait_for(written, message="an .eml file")
    [path] = await asyncio.to_thread(lambda: list(tmp_path.glob("*.eml")))
    content = await asyncio.to_thread(path.read_text)
    assert "To: alice@example.com" in content and "verify-email?token=" in content


async def test_password_reset_requests_are_rate_limited(
    aiohttp_client: Any, engines: Engines
) -> None:
    client = await aiohttp_client(
        create_app(
            make_settings(
                engines,
                RATE_LIMIT_ENABLED=True,
                RATE_LIMIT_AUTH="2/minute",
                RATE_LIMIT_TIMEOUT_SECONDS=10,
            )
        )
    )
    statuses = [
        (await client.post(f"{V1}/auth/password-reset", json={"email": "x@example.com"})).status
        for _ in range(3)
    ]
    assert statuses == [202, 202, 429]


async def test_email_tokens_are_pruned_after_they_expired(client: TestClient) -> None:
    await register(client, "alice")
    pool = client.app[DB]
    await pool.execute("UPDATE email_tokens SET expires_at = now() - interval '8 days'")
    assert await email_tokens.delete_expired(pool, older_than_seconds=7 * 86400) == 1
