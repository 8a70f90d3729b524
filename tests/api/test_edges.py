"""One error format, security headers, CORS, request ids, versioned paths, docs."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from aiohttp import web

from server.http.middleware import SECURITY_HEADERS
from tests.conftest import STRONG_PASSWORD, make_settings


def assert_error(body: dict[str, Any], code: str) -> dict[str, Any]:
    assert body["success"] is False
    assert set(body["error"]) == {"code", "message", "details", "field_errors"}
    assert body["error"]["code"] == code
    assert "Traceback" not in json.dumps(body)
    return body["error"]


async def test_unknown_route_is_not_found(client: Any) -> None:
    resp = await client.get("/api/no-such-thing")
    assert resp.status == 404
    assert_error(await resp.json(), "NOT_FOUND")


async def test_wrong_method(client: Any) -> None:
    resp = await client.delete("/api/auth/login")
    assert resp.status == 405
    error = assert_error(await resp.json(), "VALIDATION_ERROR")
    assert error["details"]["allowed_methods"] == ["POST"]
    assert resp.headers["Allow"] == "POST"


async def test_malformed_json(client: Any) -> None:
    resp = await client.post(
        "/api/auth/login", data=b'{"login": ', headers={"Content-Type": "application/json"}
    )
    assert resp.status == 400
    assert assert_error(await resp.json(), "VALIDATION_ERROR")["message"] == "Malformed JSON body"


async def test_json_that_is_not_an_object(client: Any) -> None:
    resp = await client.post("/api/auth/login", json=["login"])
    assert resp.status == 400
    assert_error(await resp.json(), "VALIDATION_ERROR")


async def test_wrong_content_type(client: Any) -> None:
    resp = await client.post(
        "/api/auth/login",
        data="login=a&password=b",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert resp.status == 415
    assert_error(await resp.json(), "VALIDATION_ERROR")


async def test_oversized_body(client: Any) -> None:
    big = b'{"login": "' + b"x" * (2 * 1024 * 1024) + b'", "password": "p"}'
    resp = await client.post(
        "/api/auth/login", data=big, headers={"Content-Type": "application/json"}
    )
    assert resp.status == 413
    error = assert_error(await resp.json(), "VALIDATION_ERROR")
    assert error["details"]["max_bytes"] == 1024 * 1024


async def test_missing_fields(client: Any) -> None:
    resp = await client.post("/api/auth/login", json={})
    assert resp.status == 400
    error = assert_error(await resp.json(), "VALIDATION_ERROR")
    assert set(error["field_errors"]) == {"login", "password"}


async def test_unexpected_exception_is_a_clean_500(
    aiohttp_client: Any, settings: Any, caplog: Any
) -> None:
    from server.app import create_app

    app = create_app(settings)

    async def explode(request: web.Request) -> web.Response:
        raise RuntimeError("secret internals")

    app.router.add_get("/explode", explode)
    client = await aiohttp_client(app)
    with caplog.at_level(logging.ERROR):
        resp = await client.get("/explode", headers={"X-Request-ID": "trace-me-1"})
    assert resp.status == 500
    text = await resp.text()
    assert "secret internals" not in text and "Traceback" not in text
    error = assert_error(json.loads(text), "SERVER_ERROR")
    assert error["details"]["request_id"] == "trace-me-1"
    assert any("secret internals" in (r.exc_text or str(r.exc_info)) for r in caplog.records)


@pytest.mark.parametrize("path", ["/healthz", "/api/does-not-exist", "/openapi.json"])
async def test_security_headers_everywhere(client: Any, path: str) -> None:
    resp = await client.get(path)
    for name, value in SECURITY_HEADERS.items():
        assert resp.headers[name] == value


async def test_request_id_is_echoed_or_made(client: Any) -> None:
    resp = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert resp.headers["X-Request-ID"] == "abc-123"
    resp = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces\u00e9"})
    assert resp.headers["X-Request-ID"] != "bad id with spaces\u00e9"
    assert len(resp.headers["X-Request-ID"]) == 32


async def test_access_log_is_one_json_line(client: Any, capsys: Any) -> None:
    from server import logs

    logs.configure("INFO")
    try:
        await client.get("/api/auth/me", headers={"X-Request-ID": "log-line-1"})
        lines = [line for line in capsys.readouterr().err.splitlines() if "log-line-1" in line]
    finally:
        logging.getLogger().handlers.clear()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["method"] == "GET" and entry["route"] == "/api/auth/me"
    assert entry["status"] == 401 and entry["request_id"] == "log-line-1"
    assert isinstance(entry["duration_ms"], float)


async def test_cors_preflight_allowed_origin(client: Any) -> None:
    resp = await client.options(
        "/api/auth/login",
        headers={
            "Origin": "https://clutch.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Content-Type, Authorization",
        },
    )
    assert resp.status == 204
    assert resp.headers["Access-Control-Allow-Origin"] == "https://clutch.example"
    assert "POST" in resp.headers["Access-Control-Allow-Methods"]
    assert resp.headers["Access-Control-Allow-Headers"] == "Content-Type, Authorization"


async def test_cors_preflight_refuses_other_origin(client: Any) -> None:
    resp = await client.options(
        "/api/auth/login",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert resp.status == 403
    assert "Access-Control-Allow-Origin" not in resp.headers
    assert_error(await resp.json(), "FORBIDDEN")


async def test_cors_simple_request(client: Any) -> None:
    resp = await client.get("/healthz", headers={"Origin": "https://clutch.example"})
    assert resp.headers["Access-Control-Allow-Origin"] == "https://clutch.example"
    assert "X-Request-ID" in resp.headers["Access-Control-Expose-Headers"]
    resp = await client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in resp.headers


async def test_cors_headers_on_errors(client: Any) -> None:
    resp = await client.get("/api/auth/me", headers={"Origin": "https://clutch.example"})
    assert resp.status == 401
    assert resp.headers["Access-Control-Allow-Origin"] == "https://clutch.example"


async def test_cors_wildcard_never_allows_credentials(aiohttp_client: Any, engines: Any) -> None:
    from server.app import create_app

    app = create_app(make_settings(engines, CORS_ORIGINS="*, https://clutch.example"))
    client = await aiohttp_client(app)
    evil = {"Origin": "https://evil.example"}
    simple = await client.get("/healthz", headers=evil)
    preflight = await client.options(
        "/api/auth/login", headers={**evil, "Access-Control-Request-Method": "POST"}
    )
    for resp in (simple, preflight):
        # Any origin may read answers, as "*" says, but never with the caller's credentials.
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
        assert "Access-Control-Allow-Credentials" not in resp.headers
    assert preflight.status == 204
    # An origin named in the list is still reflected, with credentials.
    resp = await client.get("/healthz", headers={"Origin": "https://clutch.example"})
    assert resp.headers["Access-Control-Allow-Origin"] == "https://clutch.example"
    assert resp.headers["Access-Control-Allow-Credentials"] == "true"


async def test_versioned_paths_share_handlers(client: Any) -> None:
    resp = await client.post(
        "/api/v1/auth/register",
        json={"username": "versioned", "email": "v@example.com", "password": STRONG_PASSWORD},
    )
    assert resp.status == 201
    resp = await client.post(
        "/api/v1/auth/login", json={"login": "versioned", "password": STRONG_PASSWORD}
    )
    token = (await resp.json())["tokens"]["access_token"]
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert (await me.json())["user"]["username"] == "versioned"


async def test_openapi_is_generated_from_models(client: Any) -> None:
    resp = await client.get("/openapi.json")
    doc = await resp.json()
    assert doc["openapi"] == "3.1.0"
    register = doc["paths"]["/api/auth/register"]["post"]
    ref = register["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert schema["properties"]["username"]["pattern"] == "^[a-zA-Z0-9_]{3,30}$"
    assert schema["additionalProperties"] is False
    assert {"201", "400", "409", "429"} <= set(register["responses"])
    assert doc["paths"]["/api/auth/me"]["get"]["security"] == [{"bearerAuth": []}]
    assert "ErrorResponse" in doc["components"]["schemas"]


async def test_swagger_ui_is_served_locally(client: Any) -> None:
    resp = await client.get("/documentation")
    assert resp.status == 200
    html = await resp.text()
    assert "swagger-ui" in html and "/openapi.json" in html
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()
    resp = await client.get("/documentation/static/swagger-ui-bundle.js")
    assert resp.status == 200


async def test_healthz_and_readyz(client: Any) -> None:
    assert (await (await client.get("/healthz")).json()) == {"status": "ok"}
    resp = await client.get("/readyz")
    assert resp.status == 200
    assert (await resp.json())["checks"] == {"postgres": "ok", "redis": "ok"}


async def test_readyz_with_pending_migrations(aiohttp_client: Any, engines: Any) -> None:
    from devservices.postgres import create_database
    from server.app import create_app
    from tests.conftest import _database_url_with_name

    name = "streamhub_unmigrated"
    await create_database(_database_url_with_name(engines.database_url, "postgres"), name)
    settings = make_settings(
        engines, DATABASE_URL=_database_url_with_name(engines.database_url, name)
    )
    client = await aiohttp_client(create_app(settings))
    resp = await client.get("/readyz")
    assert resp.status == 503
    error = assert_error(await resp.json(), "SERVICE_UNAVAILABLE")
    assert error["details"]["checks"]["postgres"].startswith("pending migrations")


async def test_readyz_when_redis_goes_away(
    aiohttp_client: Any, engines: Any, tmp_path: Any
) -> None:
    from devservices.redis import EmbeddedRedis
    from server.app import create_app

    redis_server = EmbeddedRedis(tmp_path / "redis")
    url = redis_server.start()
    try:
        client = await aiohttp_client(create_app(make_settings(engines, REDIS_URL=url)))
        assert (await client.get("/readyz")).status == 200
    finally:
        redis_server.stop()
    resp = await client.get("/readyz")
    assert resp.status == 503
    assert (await resp.json())["error"]["details"]["checks"]["redis"] != "ok"


async def test_head_is_answered_wherever_get_is(client: Any) -> None:
    for path in ("/healthz", "/api/videos", "/api/v1/videos"):
        resp = await client.head(path)
        assert resp.status == 200, path
        assert await resp.read() == b""
