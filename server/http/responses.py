"""JSON responses serialised with orjson (pydantic models through their own fast dumper)."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from aiohttp import web
from pydantic import BaseModel

JSON = "application/json"


def json_response(
    payload: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    if isinstance(payload, BaseModel):
        body = payload.model_dump_json().encode()
    else:
        body = orjson.dumps(payload, default=_default)
    return web.Response(body=body, status=status, content_type=JSON, headers=headers)


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, uuid.UUID):  # asyncpg's own UUID type, which orjson does not know
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def error_body(
    code: str,
    message: str,
    *,
    details: dict[str, Any] | None = None,
    field_errors: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """CLUTCH's error format, the only shape any error takes."""
    return {
        "success": False,
        "error": {
            "code": code,
            "message": message,
            "details": details or {},
            "field_errors": field_errors or {},
        },
    }


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    details: dict[str, Any] | None = None,
    field_errors: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    return json_response(
        error_body(code, message, details=details, field_errors=field_errors),
        status=status,
        headers=headers,
    )
