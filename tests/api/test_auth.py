"""CLUTCH "Authentication Endpoints" over real HTTP against real Postgres."""

from __future__ import annotations

import asyncio
from typing import Any

import jwt

from tests.conftest import STRONG_PASSWORD, TEST_SECRET


async def test_register_returns_clutch_shape(client: Any) -> None:
    resp = await client.post(
        "/api/auth/register",
        json={
            "username": "alice_1",
            "email": "alice@example.com",
            "password": STRONG_PASSWORD,
            "display_name": "Alice",
        },
    )
    assert resp.status == 201
    body = await resp.json()
    assert body["success"] is True
    assert body["message"] == "Account created successfully"
    assert set(body["user"]) == {
        "id",
        "username",
        "email",
        "display_name",
        "avatar_url",
        "created_at",
        "follower_count",
        "following_count",
    }
    assert body["user"]["display_name"] == "Alice"
    assert body["user"]["follower_count"] == 0
    assert body["user"]["avatar_url"]
    assert set(body["tokens"]) == {"access_token", "refresh_token"}


async def test_access_token_claims(client: Any, accounts: Any) -> None:
    body = await accounts.register("bob")
    claims = jwt.decode(
        body["tokens"]["access_token"],
        TEST_SECRET,
        algorithms=["HS256"],
        audience="clutch-users",
        issuer="clutch-platform",
    )
    for claim in (
        "user_id",
        "username",
        "email",
        "display_name",
        "avatar_url",
        "role",
        "exp",
        "iat",
    ):
        assert claim in claims
    assert claims["role"] == "user"
    assert claims["exp"] - claims["iat"] == 15 * 60


async def test_register_validation_fills_field_errors(client: Any) -> None:
    resp = await client.post(
        "/api/auth/register",
        json={"username": "a!", "email": "not-an-email", "password": "short", "display_name": ""},
    )
    assert resp.status == 400
    error = (await resp.json())["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert set(error["field_errors"]) == {"username", "email", "password", "display_name"}


async def test_password_rules(client: Any) -> None:
    for password, missing in (
        ("alllowercase1", "uppercase"),
        ("NoNumberHere", "number"),
        ("Sh0rt", "8 characters"),
    ):
        resp = await client.post(
            "/api/auth/register",
            json={"username": "carol", "email": "carol@example.com", "password": password},
        )
        assert resp.status == 400
        assert missing in (await resp.json())["error"]["field_errors"]["password"][0]


async def test_unknown_field_is_rejected(client: Any) -> None:
    resp = await client.post(
        "/api/auth/register",
        json={
            "username": "dave",
            "email": "dave@example.com",
            "password": STRONG_PASSWORD,
            "role": "admin",
        },
    )
    assert resp.status == 400
    assert "role" in (await resp.json())["error"]["field_errors"]


async def test_duplicate_username_and_email_conflict(client: Any, accounts: Any) -> None:
    await accounts.register("erin")
    resp = await client.post(
        "/api/auth/register",
        json={"username": "ERIN", "email": "other@example.com", "password": STRONG_PASSWORD},
    )
    assert resp.status == 409
    error = (await resp.json())["error"]
    assert error["code"] == "CONFLICT" and "username" in error["field_errors"]
    resp = await client.post(
        "/api/auth/register",
        json={"username": "erin2", "email": "ERIN@example.com", "password": STRONG_PASSWORD},
    )
    assert resp.status == 409
    assert "email" in (await resp.json())["error"]["field_errors"]


async def test_login_by_username_or_email(client: Any, accounts: Any) -> None:
    await accounts.register("frank")
    for login in ("frank", "frank@example.com", "FRANK"):
        resp = await client.post(
            "/api/auth/login", json={"login": login, "password": STRONG_PASSWORD}
        )
        assert resp.status == 200
        body = await resp.json()
        assert body["success"] is True and body["user"]["username"] == "frank"
        assert body["tokens"]["access_token"]


async def test_login_failure_does_not_reveal_account(client: Any, accounts: Any) -> None:
    await accounts.register("grace")
    wrong = await client.post("/api/auth/login", json={"login": "grace", "password": "Wrong1234"})
    missing = await client.post(
        "/api/auth/login", json={"login": "nobody", "password": "Wrong1234"}
    )
    assert wrong.status == missing.status == 401
    assert (await wrong.json())["error"] == (await missing.json())["error"]


async def test_me(client: Any, accounts: Any) -> None:
    body = await accounts.register("heidi")
    resp = await client.get("/api/auth/me", headers=body["headers"])
    assert resp.status == 200
    me = await resp.json()
    assert me["user"]["username"] == "heidi"
    assert set(me["user"]) == {
        "id",
        "username",
        "email",
        "display_name",
        "avatar_url",
        "bio",
        "follower_count",
        "following_count",
        "created_at",
        "verified",
    }
    assert me["profile"] == {"total_views": 0, "total_videos": 0, "total_likes_received": 0}


async def test_me_requires_valid_token(client: Any) -> None:
    for headers in ({}, {"Authorization": "Bearer garbage"}, {"Authorization": "Basic abc"}):
        resp = await client.get("/api/auth/me", headers=headers)
        assert resp.status == 401
        assert (await resp.json())["error"]["code"] == "UNAUTHORIZED"


async def test_expired_and_foreign_tokens_are_refused(client: Any, accounts: Any) -> None:
    body = await accounts.register("ivan")
    claims = jwt.decode(
        body["tokens"]["access_token"], TEST_SECRET, algorithms=["HS256"], audience="clutch-users"
    )
    expired = jwt.encode({**claims, "exp": claims["iat"] - 10}, TEST_SECRET, algorithm="HS256")
    forged = jwt.encode(claims, "another-secret-another-secret-123456", algorithm="HS256")
    wrong_aud = jwt.encode({**claims, "aud": "someone-else"}, TEST_SECRET, algorithm="HS256")
    none_alg = jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]
    for token in (expired, forged, wrong_aud, none_alg):
        resp = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 401, token
    resp = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {expired}"})
    assert (await resp.json())["error"]["details"]["reason"] == "token_expired"


async def test_refresh_rotates_and_reuse_revokes_family(client: Any, accounts: Any) -> None:
    body = await accounts.register("judy")
    first = body["tokens"]["refresh_token"]
    resp = await client.post("/api/auth/refresh", json={"refresh_token": first})
    assert resp.status == 200
    pair = await resp.json()
    assert set(pair) == {"access_token", "refresh_token"}
    second = pair["refresh_token"]
    assert second != first
    # the rotated token comes back: refused, and the whole family dies with it
    reuse = await client.post("/api/auth/refresh", json={"refresh_token": first})
    assert reuse.status == 401
    assert (await reuse.json())["error"]["details"]["reason"] == "token_reused"
    after = await client.post("/api/auth/refresh", json={"refresh_token": second})
    assert after.status == 401


async def test_refresh_token_cannot_be_used_twice_concurrently(client: Any, accounts: Any) -> None:
    body = await accounts.register("ken")
    token = body["tokens"]["refresh_token"]
    results = await asyncio.gather(
        *(client.post("/api/auth/refresh", json={"refresh_token": token}) for _ in range(5))
    )
    assert sorted(r.status for r in results).count(200) == 1


async def test_access_token_is_not_a_refresh_token(client: Any, accounts: Any) -> None:
    body = await accounts.register("leo")
    resp = await client.post(
        "/api/auth/refresh", json={"refresh_token": body["tokens"]["access_token"]}
    )
    assert resp.status == 401
    resp = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {body['tokens']['refresh_token']}"}
    )
    assert resp.status == 401


async def test_logout_revokes(client: Any, accounts: Any) -> None:
    body = await accounts.register("mallory")
    token = body["tokens"]["refresh_token"]
    resp = await client.post("/api/auth/logout", json={"refresh_token": token})
    assert resp.status == 200 and (await resp.json())["success"] is True
    resp = await client.post("/api/auth/refresh", json={"refresh_token": token})
    assert resp.status == 401
    error = (await resp.json())["error"]
    # Signed out is not a stolen token: the client is told it was revoked, not "already used".
    assert error["details"]["reason"] == "token_revoked"
    assert "revoked" in error["message"] and "already used" not in error["message"]


async def test_torrent_sign_up_and_sign_in(client: Any) -> None:
    resp = await client.post(
        "/api/auth/sign-up", json={"email": "niaj@example.com", "password": STRONG_PASSWORD}
    )
    assert resp.status == 201
    body = await resp.json()
    assert body["user"]["email"] == "niaj@example.com"
    assert body["user"]["username"] == "niaj"
    # a second account whose email has the same local part gets a derived, unique username
    resp = await client.post(
        "/api/auth/sign-up", json={"email": "niaj@other.org", "password": STRONG_PASSWORD}
    )
    assert resp.status == 201
    assert (await resp.json())["user"]["username"].startswith("niaj_")
    resp = await client.post(
        "/api/auth/sign-in", json={"email": "niaj@example.com", "password": STRONG_PASSWORD}
    )
    assert resp.status == 200
    tokens = (await resp.json())["tokens"]
    me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert (await me.json())["user"]["email"] == "niaj@example.com"
    dup = await client.post(
        "/api/auth/sign-up", json={"email": "NIAJ@example.com", "password": STRONG_PASSWORD}
    )
    assert dup.status == 409


async def test_sign_in_failure(client: Any) -> None:
    resp = await client.post(
        "/api/auth/sign-in", json={"email": "x@example.com", "password": "Nope12345"}
    )
    assert resp.status == 401


async def test_the_api_docs_say_a_token_keeps_its_role_for_its_lifetime(client: Any) -> None:
    doc = await (await client.get("/openapi.json")).json()
    scheme = doc["components"]["securitySchemes"]["bearerAuth"]
    assert "role" in scheme["description"] and "lifetime" in scheme["description"]
