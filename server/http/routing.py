"""Declared endpoints: one decorator gives the route, its validation and its OpenAPI entry.

A handler module owns a `Router`; each endpoint names the pydantic models it takes (body,
query) and answers (response). The same declaration drives request validation here and the
OpenAPI document in `server.http.openapi`, so the documentation cannot drift from the code.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from pydantic import BaseModel

from core import validation
from core.errors import DomainError, Forbidden, Unauthorized, ValidationFailed
from core.tokens import AccessClaims
from core.validation import Collector, InvalidInput, Problems
from server.http import ratelimit
from server.http.auth import Auth, authenticate, authenticate_key
from server.http.responses import json_response

Handler = Callable[..., Awaitable[Any]]

__all__ = ["ENDPOINTS", "Auth", "Endpoint", "Router", "path_uuid", "register"]


class UnsupportedMediaType(DomainError):
    status = 415
    code = "VALIDATION_ERROR"
    default_message = "Request body must be JSON (Content-Type: application/json)"


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    # Headers the success answer carries, name -> meaning (for the OpenAPI document).
    response_headers: dict[str, str] = field(default_factory=dict)
    status: int = 200
    auth: Auth = Auth.none
    errors: tuple[int, ...] = ()
    description: str | None = None
    # A named budget of server.http.ratelimit.Policy ("auth", "likes", ...) spent besides the
    # general one every /api request spends.
    limit: str | None = None
    # Spend `limit` only on requests that pass validation and the `roles` check, in a second
    # check after them (the general budget is still spent first, by every request): for
    # budgets that count things made, such as uploads, not attempts.
    limit_valid_only: bool = False
    # Roles allowed to call (None: any caller the `auth` mode admits); others get 403, after
    # validation. The service still enforces its own rules; this answers early and in the docs.
    roles: frozenset[str] | None = None
    # With Auth.api_key: the scope the key must have.
    key_scope: str = "ingest"
    # JSON Schemas of path parameters that are not UUIDs (the default), for the OpenAPI
    # document; the handler validates them itself.
    path_schemas: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)


# Every endpoint the app serves, for the OpenAPI document and rate-limit checks.
ENDPOINTS = web.AppKey("endpoints", list[Endpoint])


@dataclass
class Router:
    """The endpoints of one resource, registered by the app factory."""

    tag: str
    endpoints: list[Endpoint] = field(default_factory=list)

    def route(self, method: str, path: str, **spec: Any) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            summary = spec.pop("summary", None) or (handler.__doc__ or "").strip().split("\n")[0]
            self.endpoints.append(
                Endpoint(
                    method=method, path=path, handler=handler, summary=summary, tag=self.tag, **spec
                )
            )
            return handler

        return register

    def get(self, path: str, **spec: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **spec)

    def post(self, path: str, **spec: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, **spec)

    def put(self, path: str, **spec: Any) -> Callable[[Handler], Handler]:
        return self.route("PUT", path, **spec)

    def patch(self, path: str, **spec: Any) -> Callable[[Handler], Handler]:
        return self.route("PATCH", path, **spec)

    def delete(self, path: str, **spec: Any) -> Callable[[Handler], Handler]:
        return self.route("DELETE", path, **spec)


def refused(problems: Problems, message: str = "Request validation failed") -> ValidationFailed:
    """CLUTCH's VALIDATION_ERROR listing `problems`; a cut list says how many there were."""
    details: dict[str, Any] = {}
    if problems.truncated:
        message = f"{message}: {problems.total} errors, the first {len(problems.listed)} listed"
        details["field_error_count"] = problems.total
    return ValidationFailed(message, details=details, field_errors=problems.by_field())


def _find_nul(value: Any, path: tuple[object, ...], found: Collector) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            found.add(path, "Must not contain NUL (\\u0000) characters")
        return
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, item in items:
        _find_nul(item, (*path, key), found)


def refuse_nul(payload: Any) -> None:
    """Refuse strings holding NUL, which PostgreSQL text cannot store."""
    found = Collector()
    _find_nul(payload, (), found)
    if found.total:
        raise refused(found.problems(), "Text may not contain NUL characters")


# Past 2**53 a float no longer holds every integer: such a number stays a float (and is refused).
_EXACT_FLOAT_INT = 2**53


def _whole(value: float) -> bool:
    return value.is_integer() and abs(value) <= _EXACT_FLOAT_INT


def _whole_floats_as_ints(value: Any) -> Any:
    if isinstance(value, float) and _whole(value):
        return int(value)
    if isinstance(value, dict):
        return {key: _whole_floats_as_ints(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_floats_as_ints(item) for item in value]
    return value


def _strict_json(model: type[BaseModel]) -> Callable[[Any], BaseModel]:
    """Validate a parsed body as the JSON it came from, strictly: JSON `true` is no integer and
    `"5"` no number, as the OpenAPI types say (a whole 120.0 is the integer 120, as JSON Schema
    says)."""

    def validate(payload: Any) -> BaseModel:
        return model.model_validate_json(orjson.dumps(_whole_floats_as_ints(payload)), strict=True)

    return validate


async def read_body(request: web.Request, model: type[BaseModel]) -> BaseModel:
    raw = await request.read()  # raises 413 past client_max_size
    if not raw:
        payload: Any = {}
    else:
        if request.content_type not in (
            "application/json",
            "",
        ) and not request.content_type.endswith("+json"):
            raise UnsupportedMediaType(details={"content_type": request.content_type})
        try:
            payload = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ValidationFailed("Malformed JSON body", details={"reason": str(exc)}) from exc
    if not isinstance(payload, dict):
        raise ValidationFailed("Request body must be a JSON object")
    if b"\\u0000" in raw:  # the only way a NUL gets into valid JSON
        refuse_nul(payload)
    try:
        return validation.validate(_strict_json(model), model, payload)
    except InvalidInput as exc:
        raise refused(exc.problems) from exc


def parse_query(request: web.Request, model: type[BaseModel]) -> BaseModel:
    query = dict(request.query)
    refuse_nul(query)
    try:
        return validation.validate(model.model_validate, model, query)
    except InvalidInput as exc:
        raise refused(exc.problems, "Invalid query parameters") from exc


def check_role(roles: frozenset[str], user: AccessClaims | None) -> None:
    if user is None:
        raise Unauthorized("Authentication required: send `Authorization: Bearer <token>`")
    if user.role not in roles:
        raise Forbidden(f"Only {' and '.join(sorted(roles))} accounts can do this")


def make_view(endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def view(request: web.Request) -> web.StreamResponse:
        kwargs: dict[str, Any] = {}
        if endpoint.auth is Auth.api_key:
            try:
                kwargs["api_key"] = await authenticate_key(request, endpoint.key_scope)
            except Unauthorized:
                await ratelimit.enforce(request, endpoint, None)
                raise
            await ratelimit.enforce(request, endpoint, None, identity=f"key:{kwargs['api_key']}")
        elif endpoint.auth is not Auth.none:
            try:
                kwargs["user"] = authenticate(request, endpoint.auth)
            except Unauthorized:
                # Counted per IP even when the token is bad, so guessing tokens costs budget.
                await ratelimit.enforce(request, endpoint, None)
                raise
        user = kwargs.get("user")
        if endpoint.auth is not Auth.api_key:
            await ratelimit.enforce(request, endpoint, user, own=not endpoint.limit_valid_only)
        if endpoint.query is not None:
            kwargs["query"] = parse_query(request, endpoint.query)
        if endpoint.body is not None:
            kwargs["body"] = await read_body(request, endpoint.body)
        if endpoint.roles is not None:
            check_role(endpoint.roles, user)
        if endpoint.limit_valid_only:
            await ratelimit.enforce(request, endpoint, user, general=False)
        result = await endpoint.handler(request, **kwargs)
        if isinstance(result, web.StreamResponse):
            return result
        return json_response(result, status=endpoint.status)

    view.__name__ = endpoint.handler.__name__
    return view


def register(app: web.Application, routers: list[Router], *, version_prefix: str) -> None:
    """Add every endpoint, and the same handler again under `/api/{version}/`."""
    endpoints: list[Endpoint] = []
    for router in routers:
        for endpoint in router.endpoints:
            view = make_view(endpoint)
            paths = [endpoint.path]
            if endpoint.path.startswith("/api/"):
                paths.append(f"/api/{version_prefix}/" + endpoint.path.removeprefix("/api/"))
            for path in paths:
                if endpoint.method == "GET":
                    app.router.add_get(path, view)  # HEAD too, as HTTP expects of a GET
                else:
                    app.router.add_route(endpoint.method, path, view)
            endpoints.append(endpoint)
    app[ENDPOINTS] = endpoints


def path_uuid(request: web.Request, name: str) -> uuid.UUID:
    """A UUID path parameter; a malformed one is a VALIDATION_ERROR naming the parameter."""
    raw = request.match_info[name]
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise ValidationFailed(
            f"{name} is not a valid id", field_errors={name: ["Must be a UUID"]}
        ) from exc
