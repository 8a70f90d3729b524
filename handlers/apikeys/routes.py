"""API keys over HTTP, for administrators: create (the key is shown once), list, revoke."""

from __future__ import annotations

from aiohttp import web

from core.roles import ADMIN
from core.tokens import AccessClaims
from handlers.apikeys.models import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyOut,
    ApiKeyResponse,
)
from handlers.apikeys.service import ApiKeyService
from server.http.routing import Auth, Router, path_uuid

SERVICE = web.AppKey("api_keys_service", ApiKeyService)
ADMINS = frozenset({ADMIN})

routes = Router("api keys")


def _service(request: web.Request) -> ApiKeyService:
    return request.app[SERVICE]


@routes.post(
    "/api/admin/api-keys",
    body=ApiKeyCreate,
    response=ApiKeyCreated,
    status=201,
    auth=Auth.required,
    roles=ADMINS,
    errors=(400, 401, 403),
    summary="Create an API key (administrators); the key is in this answer only",
)
async def create_key(
    request: web.Request, *, user: AccessClaims, body: ApiKeyCreate
) -> ApiKeyCreated:
    made = await _service(request).create(user, name=body.name, scopes=list(body.scopes))
    return ApiKeyCreated(
        api_key=ApiKeyOut.model_validate(made.key, from_attributes=True), key=made.secret
    )


@routes.get(
    "/api/admin/api-keys",
    response=ApiKeyList,
    auth=Auth.required,
    roles=ADMINS,
    errors=(401, 403),
    summary="API keys, newest first, without the keys themselves (administrators)",
)
async def list_keys(request: web.Request, *, user: AccessClaims) -> ApiKeyList:
    found = await _service(request).list(user)
    return ApiKeyList(api_keys=[ApiKeyOut.model_validate(k, from_attributes=True) for k in found])


@routes.delete(
    "/api/admin/api-keys/{key_id}",
    response=ApiKeyResponse,
    auth=Auth.required,
    roles=ADMINS,
    errors=(400, 401, 403, 404),
    summary="Revoke an API key at once (administrators); revoking again changes nothing",
)
async def revoke_key(request: web.Request, *, user: AccessClaims) -> ApiKeyResponse:
    key = await _service(request).revoke(user, path_uuid(request, "key_id"))
    return ApiKeyResponse(api_key=ApiKeyOut.model_validate(key, from_attributes=True))
