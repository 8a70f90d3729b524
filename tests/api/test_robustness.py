"""Inputs a fuzzer found or would find: every answer is a 4xx in the error format, never a 500."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.conftest import STRONG_PASSWORD

HUGE = str(10**30)
JSON = {"Content-Type": "application/json"}
MAX_LISTED_ERRORS = 20  # core.validation.MAX_LISTED_ERRORS


@pytest.mark.parametrize(
    "path",
    [
        "/api/videos",
        "/api/users/me/following/videos",
        "/api/users/{me}/followers",
        "/api/users/{me}/following",
    ],
)
async def test_page_numbers_past_any_offset_are_a_validation_error(
    client: Any, accounts: Any, path: str
) -> None:
    body = await accounts.register("pager")
    url = path.format(me=body["user"]["id"])
    resp = await client.get(f"{url}?page={HUGE}", headers=body["headers"])
    assert resp.status == 400
    error = (await resp.json())["error"]
    assert error["code"] == "VALIDATION_ERROR" and "page" in error["field_errors"]


async def test_nul_bytes_and_odd_unicode_in_bodies(client: Any) -> None:
    for login in ("a\x00b", "\ud83d", "💥" * 300):
        resp = await client.post(
            "/api/auth/login",
            data=b'{"login": "' + login.encode("utf-8", "surrogatepass") + b'", "password": "x"}',
            headers={"Content-Type": "application/json"},
        )
        assert resp.status == 400, login
        assert (await resp.json())["error"]["code"] == "VALIDATION_ERROR", login


async def test_nul_byte_in_a_stored_field_is_refused(client: Any) -> None:
    resp = await client.post(
        "/api/auth/register",
        json={"username": "nul_user", "email": "nul@example.com", "password": STRONG_PASSWORD,
              "display_name": "bad\x00name"},
    )  # fmt: skip
    assert resp.status == 400
    assert "display_name" in (await resp.json())["error"]["field_errors"]


async def test_nul_in_query_and_nested_fields(client: Any, accounts: Any) -> None:
    resp = await client.get("/api/videos?q=a%00b")
    assert resp.status == 400
    assert "q" in (await resp.json())["error"]["field_errors"]
    creator = await accounts.register("nul_creator", role="creator")
    resp = await client.post(
        "/api/videos", json={"title": "t", "tags": ["ok", "b\x00d"]}, headers=creator["headers"]
    )
    assert resp.status == 400
    assert "tags.1" in (await resp.json())["error"]["field_errors"]


async def test_postgres_refusals_are_client_errors(aiohttp_client: Any, settings: Any) -> None:
    import asyncpg
    from aiohttp import web

    from server.app import create_app

    app = create_app(settings)

    async def out_of_range(request: web.Request) -> web.Response:
        raise asyncpg.NumericValueOutOfRangeError("integer out of range")

    app.router.add_get("/out-of-range", out_of_range)
    client = await aiohttp_client(app)
    resp = await client.get("/out-of-range")
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "VALIDATION_ERROR"


async def test_constraint_races_are_conflicts(aiohttp_client: Any, settings: Any) -> None:
    import asyncpg
    from aiohttp import web

    from server.app import create_app

    app = create_app(settings)

    async def raced(request: web.Request) -> web.Response:
        raise asyncpg.ForeignKeyViolationError("video was deleted meanwhile")

    app.router.add_get("/raced", raced)
    client = await aiohttp_client(app)
    resp = await client.get("/raced")
    assert resp.status == 409
    assert (await resp.json())["error"]["code"] == "CONFLICT"


@pytest.mark.parametrize(
    "url",
    ["//evil.example/x", "/\\evil.example/x", "http://127.0.0.1:8000/x",
     "http://169.254.169.254/latest", "http://10.1.2.3/v.mp4", 'https://cdn.example.com/"<x>'],
)  # fmt: skip
async def test_url_fields_take_public_urls_or_own_paths_only(
    client: Any, accounts: Any, url: str
) -> None:
    creator = await accounts.register("url_creator", role="creator")
    resp = await client.post(
        "/api/videos", json={"title": "t", "video_url": url}, headers=creator["headers"]
    )
    assert resp.status == 400, await resp.text()
    assert "video_url" in (await resp.json())["error"]["field_errors"]
    resp = await client.put("/api/users/me", json={"avatar_url": url}, headers=creator["headers"])
    assert resp.status == 400, await resp.text()
    assert "avatar_url" in (await resp.json())["error"]["field_errors"]
    fine = await client.post(
        "/api/videos",
        json={"title": "t", "video_url": "https://cdn.example.com/v.mp4"},
        headers=creator["headers"],
    )
    assert fine.status == 201, await fine.text()


async def test_integers_are_json_integers(client: Any, accounts: Any) -> None:
    """As the schema's `integer` says: 120.0 is 120; true, "120", 1.5 and 1e300 are refused."""
    creator = await accounts.register("int_creator", role="creator")
    for duration in (True, "120", 1.5, 1e300, -1e300):
        resp = await client.post(
            "/api/videos", json={"title": "t", "duration": duration}, headers=creator["headers"]
        )
        assert resp.status == 400, (duration, await resp.text())
        assert "duration" in (await resp.json())["error"]["field_errors"], duration
    resp = await client.post(
        "/api/videos", json={"title": "t", "duration": 120.0}, headers=creator["headers"]
    )
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["duration"] == 120


# --- no amplification: refusing a bad body costs no more than the body ----------------------


async def test_a_body_of_unknown_fields_gets_a_bounded_answer(client: Any) -> None:
    unknown = {f"field_{n:06d}": n for n in range(40_000)}  # about 800 KB
    raw = orjson.dumps(unknown)
    resp = await client.post("/api/auth/login", data=raw, headers=JSON)
    assert resp.status == 400
    answer = await resp.read()
    assert len(answer) < 8 * 1024, "the answer lists a few fields, not every one"
    error = orjson.loads(answer)["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert len(error["field_errors"]) == MAX_LISTED_ERRORS
    # The missing fields come first, then the unknown ones; the count says how many in all.
    assert error["field_errors"]["login"] == ["Field required"]
    assert error["field_errors"]["field_000000"] == ["Extra inputs are not permitted"]
    assert error["details"]["field_error_count"] == 40_000 + 2


async def test_nested_unknown_fields_and_long_names_are_capped(client: Any, accounts: Any) -> None:
    me = await accounts.register("nested_unknowns")
    notifications: dict[str, Any] = {f"k{n}": True for n in range(20_000)}
    notifications["x" * 50_000] = True
    resp = await client.put(
        "/api/users/me",
        json={"settings": {"notifications": notifications}},
        headers=me["headers"],
    )
    assert resp.status == 400
    answer = await resp.read()
    assert len(answer) < 8 * 1024
    error = orjson.loads(answer)["error"]
    assert len(error["field_errors"]) == MAX_LISTED_ERRORS
    assert "settings.notifications.k0" in error["field_errors"]
    assert error["details"]["field_error_count"] == 20_001
    assert all(len(name) <= 100 for name in error["field_errors"])


async def test_many_nul_fields_are_listed_in_a_bounded_answer(client: Any) -> None:
    body = {"login": "a", "password": "b", **{f"n{n}": "\x00" for n in range(5_000)}}
    resp = await client.post("/api/auth/login", data=orjson.dumps(body), headers=JSON)
    assert resp.status == 400
    error = (await resp.json())["error"]
    assert len(error["field_errors"]) == MAX_LISTED_ERRORS
    assert error["details"]["field_error_count"] == 5_000
