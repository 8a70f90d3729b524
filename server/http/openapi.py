"""OpenAPI 3.1 built from the declared endpoints and their pydantic models, never by hand."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from server.http.routing import Auth, Endpoint

REF = "#/components/schemas/{model}"

_ERROR_DESCRIPTIONS = {
    400: "VALIDATION_ERROR: the request is malformed or a field is invalid",
    401: "UNAUTHORIZED: missing, invalid or expired token",
    403: "FORBIDDEN: the caller may not do this",
    404: "NOT_FOUND: no such resource",
    409: "CONFLICT: the resource already exists, or its state refuses the change",
    413: "VALIDATION_ERROR: request body too large",
    415: "VALIDATION_ERROR: request body is not JSON",
    429: "RATE_LIMITED: too many requests",
    503: "SERVICE_UNAVAILABLE: an engine is down or past its deadline; retry after Retry-After",
}


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any]
    field_errors: dict[str, list[str]]


class ErrorResponse(BaseModel):
    """CLUTCH's error format: every error from every endpoint has this shape."""

    success: bool = False
    error: ErrorDetail


def _models(endpoints: list[Endpoint]) -> list[tuple[type[BaseModel], Any]]:
    seen: list[tuple[type[BaseModel], Any]] = [(ErrorResponse, "serialization")]
    for ep in endpoints:
        if ep.body is not None:
            seen.append((ep.body, "validation"))
        if ep.response is not None:
            seen.append((ep.response, "serialization"))
    unique: dict[tuple[type[BaseModel], Any], None] = dict.fromkeys(seen)
    return list(unique)


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": {k: v for k, v in prop.items() if k != "title"},
            **({"description": prop["description"]} if "description" in prop else {}),
        }
        for name, prop in schema.get("properties", {}).items()
    ]


def _operation(ep: Endpoint, refs: dict[Any, Any]) -> dict[str, Any]:
    error_ref = {"$ref": REF.format(model="ErrorResponse")}
    op: dict[str, Any] = {
        "summary": ep.summary,
        "tags": [ep.tag],
        "operationId": f"{ep.tag}_{ep.handler.__name__}",
    }
    notes = [ep.description] if ep.description else []
    if ep.roles is not None:
        notes.append(f"Roles: {', '.join(sorted(ep.roles))} (others get 403).")
    if ep.limit is not None and ep.limit_valid_only:
        notes.append(
            f"The `{ep.limit}` rate limit is spent only by requests that pass validation and"
            " the role check."
        )
    if notes:
        op["description"] = "\n\n".join(notes)
    # A path parameter is a UUID (`path_uuid` refuses anything else) unless the endpoint
    # declares its schema.
    id_schema = {"type": "string", "format": "uuid"}
    params = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": ep.path_schemas.get(name, id_schema),
        }
        for name in ep.path_params
    ]
    if ep.query is not None:
        params += _query_parameters(ep.query)
    if params:
        op["parameters"] = params
    if ep.body is not None:
        # An empty body reads as `{}`: the body is required only when a field is.
        op["requestBody"] = {
            "required": bool(ep.body.model_json_schema().get("required")),
            "content": {"application/json": {"schema": refs[(ep.body, "validation")]}},
        }
    success: dict[str, Any] = {"description": "Success"}
    if ep.response is not None:
        success["content"] = {"application/json": {"schema": refs[(ep.response, "serialization")]}}
    if ep.response_headers:
        success["headers"] = {
            name: {"description": meaning, "schema": {"type": "string"}}
            for name, meaning in ep.response_headers.items()
        }
    responses: dict[str, Any] = {str(ep.status): success}
    codes = set(ep.errors)
    if ep.body is not None or ep.query is not None or ep.path_params:
        codes.add(400)
    if ep.limit is not None or ep.path.startswith("/api/"):
        codes.add(429)  # every /api request spends the general budget
        codes.add(503)  # and reaches an engine, which may be down or hung
    if ep.roles is not None:
        codes.add(403)
    if ep.auth is not Auth.none:
        codes.add(401)
        if ep.auth is Auth.api_key:
            op["security"] = [{"apiKey": []}]
        else:
            op["security"] = [{"bearerAuth": []}] + ([{}] if ep.auth is Auth.optional else [])
    for status in sorted(codes):
        responses[str(status)] = {
            "description": _ERROR_DESCRIPTIONS.get(status, "Error"),
            "content": {"application/json": {"schema": error_ref}},
        }
    op["responses"] = responses
    return op


# PostgreSQL text cannot hold NUL, so the server refuses it in every string (routing.py); the
# schemas say so too, for generated clients and fuzzers.
NO_NUL = "^[^\\x00]*$"


def _refuse_nul(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "string" and not {"pattern", "format", "enum", "const"} & set(node):
            node["pattern"] = NO_NUL
        for value in node.values():
            _refuse_nul(value)
    elif isinstance(node, list):
        for value in node:
            _refuse_nul(value)


def build(endpoints: list[Endpoint], *, title: str, version: str) -> dict[str, Any]:
    refs, defs = models_json_schema(_models(endpoints), ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for ep in endpoints:
        paths.setdefault(ep.path, {})[ep.method.lower()] = _operation(ep, refs)
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": (
                "Streamhub REST API. Every `/api/...` path is also served under `/api/v1/...`. "
                "Errors always use the ErrorResponse shape."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {
                "apiKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-API-Key",
                    "description": "A machine's API key (created by an admin, shown once)",
                },
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": (
                        "An access token from login, register or refresh. It carries the"
                        " account's role as it was when the token was issued and keeps it"
                        " for its whole lifetime (ACCESS_TOKEN_EXPIRE_MINUTES, 15 by default):"
                        " checks on writes read the role from the token, so a role granted or"
                        " taken away applies from the next refresh."
                    ),
                },
            },
        },
    }
    _refuse_nul(document)
    return document
