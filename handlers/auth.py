"""Authentication: CLUTCH's register/login/refresh/me/logout and the torrent app's sign-up/in."""

from __future__ import annotations

import asyncio
import re
import secrets
import uuid

from aiohttp import web

from core import passwords
from core.errors import Conflict, Unauthorized
from core.tokens import AccessClaims, hash_token
from handlers.schemas.auth import (
    AuthResponse,
    AuthUser,
    LoginRequest,
    LogoutRequest,
    MeProfile,
    MeResponse,
    MeUser,
    RefreshRequest,
    RegisterRequest,
    SignInRequest,
    SignUpRequest,
    TokenPair,
)
from handlers.schemas.common import SuccessMessage
from server import keys
from server.routing import Auth, Router
from storage import refresh_tokens, users
from storage.refresh_tokens import RotationOutcome

routes = Router("auth")

DEFAULT_AVATAR_URL = "/static/avatars/default.svg"
LOGIN_FAILED = "Invalid login or password"


async def _hash(password: str) -> str:
    # Argon2 is CPU-bound (~tens of ms); on the loop it would stall every socket of the node.
    return await asyncio.get_running_loop().run_in_executor(None, passwords.hash_password, password)


async def _verify(password_hash: str | None, password: str) -> bool:
    return await asyncio.get_running_loop().run_in_executor(
        None, passwords.verify_password, password_hash, password
    )


async def issue_tokens(request: web.Request, user: users.User) -> TokenPair:
    tokens = request.app[keys.TOKENS]
    refresh = tokens.issue_refresh(str(user.id))
    await refresh_tokens.insert(
        request.app[keys.DB],
        token_id=refresh.token_id,
        family_id=refresh.family_id,
        user_id=user.id,
        token_hash=refresh.token_hash,
        expires_at=refresh.expires_at,
    )
    return TokenPair(access_token=tokens.issue_access(user.claims()), refresh_token=refresh.token)


async def _auth_response(request: web.Request, user: users.User, message: str) -> AuthResponse:
    return AuthResponse(
        message=message,
        user=AuthUser.model_validate(user, from_attributes=True),
        tokens=await issue_tokens(request, user),
    )


@routes.post(
    "/api/auth/register",
    limit="auth",
    body=RegisterRequest,
    response=AuthResponse,
    status=201,
    errors=(409,),
    summary="Create an account and sign in",
)
async def register(request: web.Request, *, body: RegisterRequest) -> AuthResponse:
    user = await users.create(
        request.app[keys.DB],
        username=body.username,
        email=str(body.email),
        password_hash=await _hash(body.password),
        display_name=body.display_name or body.username,
        avatar_url=DEFAULT_AVATAR_URL,
    )
    return await _auth_response(request, user, "Account created successfully")


async def _login(request: web.Request, login: str, password: str) -> AuthResponse:
    db = request.app[keys.DB]
    user = await users.find_by_login(db, login)
    # Verified even when no account exists, so timing does not reveal which logins exist.
    ok = await _verify(user.password_hash if user else None, password)
    if user is None or not ok:
        raise Unauthorized(LOGIN_FAILED)
    rehash = await _hash(password) if passwords.needs_rehash(user.password_hash) else None
    await users.record_login(db, user.id, rehash)
    return await _auth_response(request, user, "Login successful")


@routes.post(
    "/api/auth/login",
    limit="auth",
    body=LoginRequest,
    response=AuthResponse,
    errors=(401,),
    summary="Sign in with username or email",
)
async def login(request: web.Request, *, body: LoginRequest) -> AuthResponse:
    return await _login(request, body.login, body.password)


@routes.post(
    "/api/auth/refresh",
    limit="auth",
    body=RefreshRequest,
    response=TokenPair,
    errors=(401,),
    summary="Exchange a refresh token for a new pair (the old one stops working)",
)
async def refresh(request: web.Request, *, body: RefreshRequest) -> TokenPair:
    tokens = request.app[keys.TOKENS]
    db = request.app[keys.DB]
    claims = tokens.decode_refresh(body.refresh_token)
    successor = tokens.issue_refresh(claims.user_id, family_id=claims.family_id)
    rotation = await refresh_tokens.rotate(
        db,
        token_hash=hash_token(body.refresh_token),
        new_token_id=successor.token_id,
        new_token_hash=successor.token_hash,
        new_expires_at=successor.expires_at,
    )
    if rotation.outcome is RotationOutcome.reused:
        raise Unauthorized(
            "Refresh token was already used; all sessions from it are revoked",
            details={"reason": "token_reused"},
        )
    if rotation.outcome is not RotationOutcome.rotated or rotation.user_id is None:
        raise Unauthorized("Invalid refresh token", details={"reason": rotation.outcome.value})
    user = await users.get(db, rotation.user_id)
    return TokenPair(access_token=tokens.issue_access(user.claims()), refresh_token=successor.token)


@routes.post(
    "/api/auth/logout",
    body=LogoutRequest,
    response=SuccessMessage,
    summary="Revoke a refresh token and every token rotated from it",
)
async def logout(request: web.Request, *, body: LogoutRequest) -> SuccessMessage:
    # Idempotent: logging out twice, or with an unknown token, still ends signed out.
    await refresh_tokens.revoke_by_hash(request.app[keys.DB], hash_token(body.refresh_token))
    return SuccessMessage(message="Logged out")


@routes.get(
    "/api/auth/me",
    response=MeResponse,
    auth=Auth.required,
    errors=(404,),
    summary="The signed-in user and their totals",
)
async def me(request: web.Request, *, user: AccessClaims) -> MeResponse:
    account = await users.get(request.app[keys.DB], uuid.UUID(user.user_id))
    return MeResponse(
        user=MeUser.model_validate(account, from_attributes=True),
        profile=MeProfile.model_validate(account, from_attributes=True),
    )


def _username_from_email(email: str) -> str:
    local = re.sub(r"[^A-Za-z0-9_]", "_", email.split("@", 1)[0])[:20].strip("_") or "user"
    return local if len(local) >= 3 else f"{local}_user"


@routes.post(
    "/api/auth/sign-up",
    limit="auth",
    body=SignUpRequest,
    response=AuthResponse,
    status=201,
    errors=(409,),
    summary="Torrent app: create an account with email and password",
)
async def sign_up(request: web.Request, *, body: SignUpRequest) -> AuthResponse:
    db = request.app[keys.DB]
    password_hash = await _hash(body.password)
    base = body.username or _username_from_email(str(body.email))
    candidates = [base] + (
        [] if body.username else [f"{base[:24]}_{secrets.token_hex(2)}" for _ in range(5)]
    )
    for username in candidates:
        try:
            user = await users.create(
                db,
                username=username,
                email=str(body.email),
                password_hash=password_hash,
                display_name=body.display_name or username,
                avatar_url=DEFAULT_AVATAR_URL,
            )
        except Conflict as exc:
            if "username" in exc.field_errors and username is not candidates[-1]:
                continue  # derived name taken: try the next candidate
            raise
        return await _auth_response(request, user, "Account created successfully")
    raise Conflict("Could not find a free username")  # pragma: no cover - 6 collisions in a row


@routes.post(
    "/api/auth/sign-in",
    limit="auth",
    body=SignInRequest,
    response=AuthResponse,
    errors=(401,),
    summary="Torrent app: sign in with email and password",
)
async def sign_in(request: web.Request, *, body: SignInRequest) -> AuthResponse:
    return await _login(request, str(body.email), body.password)
