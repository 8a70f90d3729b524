"""The admin dashboard in Chromium: sign in, find a user and change their role, delete a
torrent, create an API key and see it once, sign out; others are kept out."""

from __future__ import annotations

from typing import Any

import pytest

from server.app import DB
from tests.api.test_torrents import ingest, make_key, torrent
from tests.conftest import STRONG_PASSWORD, Accounts

pytestmark = pytest.mark.timeout(180)


async def sign_in(page: Any, base: str, login: str) -> None:
    await page.goto(base + "login")
    await page.fill("#login", login)
    await page.fill("#password", STRONG_PASSWORD)
    await page.click("#sign-in")


async def test_an_admin_runs_the_dashboard(client: Any, accounts: Accounts, page: Any) -> None:
    base = str(client.make_url("/"))
    boss = await accounts.register("boss", role="admin")
    await accounts.register("findme_student")
    await accounts.register("someone_else")
    key = await make_key(client, boss["headers"])
    await ingest(client, key, [torrent("Keep.This.One"), torrent("Delete.This.One")])
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: dialog.accept())  # the delete confirmations

    await sign_in(page, base, "boss")
    await page.wait_for_url("**/admin")
    assert await page.locator('[data-check="postgres"] .value').inner_text() == "ok"
    styles = await page.evaluate("getComputedStyle(document.querySelector('.bar')).display")
    assert styles == "flex"  # the stylesheet, from the node itself, applied

    # Find a user and make them an instructor.
    await page.click("text=Users")
    await page.fill('input[name="q"]', "findme")
    await page.click("button:has-text('Filter')")
    rows = page.locator("tbody tr[data-username]")
    assert await rows.count() == 1
    await rows.first.locator('select[name="role"]').select_option("creator")
    await rows.first.locator("button:has-text('Save')").click()
    await page.wait_for_selector(".notice")
    assert "Role changed" in await page.inner_text(".notice")
    role = await client.app[DB].fetchval("SELECT role FROM users WHERE username = 'findme_student'")
    assert role == "creator"

    # Delete a torrent.
    await page.click("text=Torrents")
    await page.locator('tr[data-torrent="Delete.This.One"] button:has-text("Delete")').click()
    await page.wait_for_selector(".notice")
    assert await page.locator('tr[data-torrent="Delete.This.One"]').count() == 0
    assert await page.locator('tr[data-torrent="Keep.This.One"]').count() == 1

    # Create an API key: shown once.
    await page.click("text=API keys")
    await page.fill('input[name="name"]', "scraper-eu")
    await page.click("#create-key")
    secret = await page.inner_text("#new-key")
    assert secret.startswith("shk_")
    resp = await client.post(
        "/api/ingest", json={"torrents": [torrent("Via.New.Key")]}, headers={"X-API-Key": secret}
    )
    assert resp.status == 200
    await page.goto(base + "admin/api-keys")  # the list again: the key is not in it
    assert await page.locator("#new-key").count() == 0
    assert secret not in await page.content()

    await page.click("#logout")
    await page.wait_for_url("**/login")
    await page.goto(base + "admin")
    assert page.url.endswith("/login")
    assert not errors, errors


async def test_others_are_kept_out(client: Any, accounts: Accounts, page: Any) -> None:
    base = str(client.make_url("/"))
    await accounts.register("student")
    await page.goto(base + "admin/users")
    assert page.url.endswith("/login")  # logged out: to the sign-in page
    await sign_in(page, base, "student")
    await page.wait_for_selector(".error")
    assert "Only administrators" in await page.inner_text(".error")
    await page.goto(base + "admin")
    assert page.url.endswith("/login")


async def test_a_form_without_its_csrf_token_is_refused(
    client: Any, accounts: Accounts, page: Any
) -> None:
    base = str(client.make_url("/"))
    await accounts.register("boss", role="admin")
    victim = await accounts.register("victim")
    await sign_in(page, base, "boss")
    await page.wait_for_url("**/admin")
    # A form posted by script without the token, with the session cookie the browser sends.
    status = await page.evaluate(
        """async (url) => (await fetch(url, {method: "POST",
               headers: {"Content-Type": "application/x-www-form-urlencoded"},
               body: "role=admin"})).status""",
        f"/admin/users/{victim['user']['id']}/role",
    )
    assert status == 403
    role = await client.app[DB].fetchval("SELECT role FROM users WHERE username = 'victim'")
    assert role == "user"
