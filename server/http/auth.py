"""Who is calling: the bearer token of a request, decoded by the app's token service."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable

from aiohttp import web

from core.errors import Unauthorized
from core.tokens import AccessClaims, TokenService

# The app's token service (core/tokens.py), set by the composition root.
TOKENS = web.AppKey("tokens", TokenService)


class Auth(enum.Enum):
    """What an endpoint asks of the caller: a user's bearer token (optional or required), or
    a machine's API key (`X-API-Key`)."""

    none = "none"
    optional = "optional"
    required = "required"
    api_key = "api_key"


# (key, scope) -> the id of that live key if it has the scope, else None.
ApiKeyCheck = Callable[[str, str], Awaitable[str | None]]
# Checks machines' API keys; set by the composition root.
API_KEYS: web.AppKey[ApiKeyCheck] = web.AppKey("api_keys")
API_KEY_HEADER = "X-API-Key"


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate(request: web.Request, mode: Auth) -> AccessClaims | None:
    token = bearer_token(request)
    if token is None:
        if mode is Auth.required:
            raise Unauthorized("Authentication required: send `Authorization: Bearer <token>`")
        return None
    # A token that is present but invalid is refused even where auth is optional:
    # silently treating the caller as anonymous would hide an expired session.
    return request.app[TOKENS].decode_access(token)


async def authenticate_key(request: web.Request, scope: str) -> str:
    """The id of the API key the request carries, which must be live and allow `scope`."""
    key = request.headers.get(API_KEY_HEADER, "").strip()
    if not key:
        raise Unauthorized(f"An API key is required: send `{API_KEY_HEADER}: <key>`")
    key_id = await request.app[API_KEYS](key, scope)
    if key_id is None:
        raise Unauthorized("Invalid or revoked API key")
    return key_id
