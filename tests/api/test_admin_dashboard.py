"""The admin dashboard's sessions and CSRF over real HTTP (the browser tier drives the pages)."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

from tests.conftest import STRONG_PASSWORD, Accounts

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def csrf_of(client: TestClient, path: str = "/login") -> str:
    page = await (await client.get(path)).text()
    found = CSRF.search(page)
    assert found, page
    return found.group(1)


async def sign_in(client: TestClient, login: str) -> Any:
    token = await csrf_of(client)
    return await client.post(
        "/login",
        data={"login": login, "password": STRONG_PASSWORD, "csrf_token": token},
        allow_redirects=False,
    )


async def test_only_admins_get_in(client: TestClient, accounts: Accounts) -> None:
    resp = await client.get("/admin", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/login"
    await accounts.register("student")
    resp = await sign_in(client, "student")
    assert resp.status == 403 and "Only administrators" in await resp.text()
    assert "sh_session" not in {c.key for c in client.session.cookie_jar}

    await accounts.register("boss", role="admin")
    resp = await sign_in(client, "boss")
    assert resp.status == 303 and resp.headers["Location"] == "/admin"
    cookie = resp.cookies["sh_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    assert not cookie["secure"]  # plain HTTP here; Secure when the request came over TLS
    page = await client.get("/admin")
    assert page.status == 200
    html = await page.text()
    assert 'data-check="postgres"' in html and "WebSocket connections" in html
    for path in ("/admin/users", "/admin/torrents", "/admin/videos", "/admin/comments",
                 "/admin/api-keys"):  # fmt: skip
        assert (await client.get(path)).status == 200, path


async def test_forms_need_the_csrf_token(client: TestClient, accounts: Accounts) -> None:
    student = await accounts.register("student")
    await accounts.register("boss", role="admin")
    await sign_in(client, "boss")
    url = f"/admin/users/{student['user']['id']}/role"
    resp = await client.post(url, data={"role": "creator"}, allow_redirects=False)
    assert resp.status == 403 and "CSRF" in await resp.text()
    resp = await client.post(
        url, data={"role": "creator", "csrf_token": "forged"}, allow_redirects=False
    )
    assert resp.status == 403
    token = await csrf_of(client, "/admin/users")
    resp = await client.post(
        url, data={"role": "creator", "csrf_token": token}, allow_redirects=False
    )
    assert resp.status == 303
    listed = await (await client.get("/admin/users", params={"q": "student"})).text()
    assert '<option value="creator" selected>' in listed

    resp = await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)
    assert resp.status == 303
    assert (await client.get("/admin", allow_redirects=False)).status == 303


async def test_a_disabled_account_cannot_sign_in_or_refresh(
    client: TestClient, accounts: Accounts
) -> None:
    student = await accounts.register("student")
    await accounts.register("boss", role="admin")
    await sign_in(client, "boss")
    token = await csrf_of(client, "/admin/users")
    url = f"/admin/users/{student['user']['id']}/disable"
    resp = await client.post(
        url, data={"disabled": "1", "csrf_token": token}, allow_redirects=False
    )
    assert resp.status == 303
    login = {"login": "student", "password": STRONG_PASSWORD}
    resp = await client.post("/api/auth/login", json=login)
    assert resp.status == 403
    assert (await resp.json())["error"]["details"]["reason"] == "account_disabled"
    refresh = await client.post(
        "/api/auth/refresh", json={"refresh_token": student["tokens"]["refresh_token"]}
    )
    assert refresh.status == 401  # its refresh tokens were revoked
    resp = await client.post(
        url, data={"disabled": "0", "csrf_token": token}, allow_redirects=False
    )
    assert resp.status == 303
    assert (await client.post("/api/auth/login", json=login)).status == 200
