"""Who is calling: the bearer token of a request, decoded by the app's token service."""

from __future__ import annotations

import enum

from aiohttp import web

from core.errors import Unauthorized
from core.tokens import AccessClaims, TokenService

# The app's token service (core/tokens.py), set by the composition root.
TOKENS = web.AppKey("tokens", TokenService)


class Auth(enum.Enum):
    """What an endpoint asks of the caller's token."""

    none = "none"
    optional = "optional"
    required = "required"


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
