"""The edges every request passes: request id and access log, CORS, the error format, headers.

Order (outermost first): access_log -> cors -> errors -> handler. The error middleware turns
every failure into CLUTCH's error format, so the two outer ones always see a response.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import redis.exceptions
from aiohttp import web

from core.errors import DomainError
from server.http.responses import error_response

log = logging.getLogger("streamhub.http")
access = logging.getLogger("streamhub.access")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The id of a request (incoming X-Request-ID or a new one), logged and echoed.
REQUEST_ID = web.RequestKey("request_id", str)

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "X-XSS-Protection": "1; mode=block",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'"
    ),
}

# Request ids from clients are echoed and logged, so only a safe, short alphabet is honoured.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

# Failures of an engine rather than of the request: each a 503 with Retry-After. Timeouts are
# deadlines that ran out (asyncpg's and asyncio's are the builtin TimeoutError; redis-py has
# its own); BusyLoadingError (Redis loading its data) is a redis ConnectionError.
ENGINE_UNAVAILABLE: tuple[type[BaseException], ...] = (
    TimeoutError,
    ConnectionError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.QueryCanceledError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)
# What a 503 asks the client to wait before retrying.
RETRY_AFTER_SECONDS = 5

# aiohttp's HTTP errors mapped onto CLUTCH's codes.
_STATUS_CODES = {
    400: "VALIDATION_ERROR",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "VALIDATION_ERROR",
    409: "CONFLICT",
    411: "VALIDATION_ERROR",
    413: "VALIDATION_ERROR",
    414: "VALIDATION_ERROR",
    415: "VALIDATION_ERROR",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
}

# What the `Server` header says: our name, never a library's version for a scanner to match.
SERVER_NAME = "streamhub"


def status_code(status: int) -> str:
    """CLUTCH's error code for an HTTP status aiohttp raised."""
    return _STATUS_CODES.get(status, "VALIDATION_ERROR" if 400 <= status < 500 else "SERVER_ERROR")


def _route_template(request: web.Request) -> str:
    info = request.match_info.route.resource
    return info.canonical if info is not None else "unmatched"


@web.middleware
async def access_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    incoming = request.headers.get("X-Request-ID", "")
    request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
    request[REQUEST_ID] = request_id
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        if not response.prepared:
            response.headers["X-Request-ID"] = request_id
        return response
    finally:
        access.info(
            "request",
            extra={
                "method": request.method,
                "route": _route_template(request),
                "path": request.path,
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "request_id": request_id,
                "remote": request.remote,
            },
        )


def cors_middleware(allowed_origins: list[str]) -> Callable[..., Awaitable[web.StreamResponse]]:
    """CORS for the origins listed; `*` lets any other origin read answers without credentials.

    A listed origin is reflected with `Access-Control-Allow-Credentials: true`. Under `*` an
    unlisted origin gets `Access-Control-Allow-Origin: *` and no credentials: reflecting any
    origin with credentials would let every site act with a visitor's cookies or HTTP auth.
    (Streamhub authenticates with bearer tokens, which a page sends explicitly either way.)
    """
    allow_any = "*" in allowed_origins
    allowed = frozenset(allowed_origins) - {"*"}

    def origin_allowed(origin: str) -> bool:
        return allow_any or origin in allowed

    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        is_preflight = (
            request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers
        )
        if origin is None:
            return await handler(request)
        if is_preflight:
            if not origin_allowed(origin):
                return error_response(403, "FORBIDDEN", f"Origin {origin} is not allowed")
            response: web.StreamResponse = web.Response(status=204)
            response.headers.update(
                {
                    "Access-Control-Allow-Methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
                    "Access-Control-Allow-Headers": request.headers.get(
                        "Access-Control-Request-Headers", "Authorization, Content-Type"
                    ),
                    "Access-Control-Max-Age": "600",
                }
            )
        else:
            response = await handler(request)
            if not origin_allowed(origin) or response.prepared:
                return response
            response.headers["Access-Control-Expose-Headers"] = (
                "X-Request-ID, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, "
                "X-RateLimit-Reset, Link, X-Total-Count, X-Next-Cursor"
            )
        if origin in allowed:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Credentials"] = "true"
        else:  # allowed only by "*"
            response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Vary"] = "Origin"
        return response

    return cors


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except DomainError as exc:
        return error_response(
            exc.status,
            exc.code,
            exc.message,
            details=exc.details,
            field_errors=exc.field_errors,
            headers=exc.headers,
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _http_error(request, exc)
    except asyncio.CancelledError:
        raise
    except asyncpg.IntegrityConstraintViolationError as exc:
        # Defence in depth: a row changed under a request (e.g. its video deleted between the
        # check and the insert) conflicts with the current state; it is not a server fault.
        log.warning("constraint refused a write", extra={"path": request.path, "error": repr(exc)})
        return error_response(
            409, "CONFLICT", "The resource changed; retry", details={"reason": type(exc).__name__}
        )
    except ENGINE_UNAVAILABLE as exc:
        # Postgres or Redis down, overloaded or past its deadline: the request may succeed
        # later, so it is a 503 the client may retry, not a fault of ours (no trace logged).
        log.warning(
            "engine unavailable",
            extra={
                "request_id": request.get(REQUEST_ID, ""),
                "path": request.path,
                "error": repr(exc),
            },
        )
        return error_response(
            503,
            "SERVICE_UNAVAILABLE",
            "A service this request needs is unavailable or slow; retry shortly",
            details={"reason": type(exc).__name__},
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    except asyncpg.DataError as exc:
        # Defence in depth: input the edge models let through but Postgres refuses (a value out
        # of a column's range, bytes it cannot encode) is the client's error, not ours.
        log.warning("input refused by postgres", extra={"path": request.path, "error": repr(exc)})
        return error_response(
            400, "VALIDATION_ERROR", "Invalid input", details={"reason": type(exc).__name__}
        )
    except Exception:
        # The trace goes to the log with the request id; the client gets only the id.
        request_id = request.get(REQUEST_ID, "")
        log.exception("unhandled error", extra={"request_id": request_id, "path": request.path})
        return error_response(
            500,
            "SERVER_ERROR",
            "Internal server error",
            details={"request_id": request_id},
        )


def _http_error(request: web.Request, exc: web.HTTPException) -> web.Response:
    code = status_code(exc.status)
    details: dict[str, object] = {}
    headers: dict[str, str] = {}
    if exc.status == 404:
        message = f"No route for {request.method} {request.path}"
    elif isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = sorted(exc.allowed_methods)
        message = f"Method {request.method} is not allowed on {request.path}"
        details["allowed_methods"] = allowed
        headers["Allow"] = ", ".join(allowed)
    elif exc.status == 413:
        message = "Request body is too large"
        details["max_bytes"] = request.client_max_size
    else:
        message = exc.reason
    return error_response(exc.status, code, message, details=details, headers=headers)


# Swagger UI draws its icons from data: URIs; only the docs pages get that one extra source.
DOCS_CSP = SECURITY_HEADERS["Content-Security-Policy"] + "; img-src 'self' data:"


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare hook: every response, errors and static files included."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers["Server"] = SERVER_NAME
    if request.path.startswith("/documentation"):
        response.headers["Content-Security-Policy"] = DOCS_CSP
    if REQUEST_ID in request:
        response.headers.setdefault("X-Request-ID", request[REQUEST_ID])
