"""Accounts over HTTP: CLUTCH's register/login/refresh/me/logout and the torrent app's
sign-up/sign-in."""

from __future__ import annotations

from aiohttp import web

from core.tokens import AccessClaims
from handlers.accounts.models import (
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
from handlers.accounts.service import AccountService, SignedIn, Tokens
from server.http.models import SuccessMessage
from server.http.routing import Auth, Router

# This app's account service, set by the composition root.
SERVICE = web.AppKey("accounts", AccountService)

routes = Router("auth")


def _service(request: web.Request) -> AccountService:
    return request.app[SERVICE]


def _pair(tokens: Tokens) -> TokenPair:
    return TokenPair(access_token=tokens.access_token, refresh_token=tokens.refresh_token)


def _signed_in(signed: SignedIn, message: str) -> AuthResponse:
    return AuthResponse(
        message=message,
        user=AuthUser.model_validate(signed.user, from_attributes=True),
        tokens=_pair(signed.tokens),
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
    signed = await _service(request).register(
        username=body.username,
        email=str(body.email),
        password=body.password,
        display_name=body.display_name,
    )
    return _signed_in(signed, "Account created successfully")


@routes.post(
    "/api/auth/login",
    limit="auth",
    body=LoginRequest,
    response=AuthResponse,
    errors=(401,),
    summary="Sign in with username or email",
)
async def login(request: web.Request, *, body: LoginRequest) -> AuthResponse:
    signed = await _service(request).login(login=body.login, password=body.password)
    return _signed_in(signed, "Login successful")


@routes.post(
    "/api/auth/refresh",
    limit="auth",
    body=RefreshRequest,
    response=TokenPair,
    errors=(401,),
    summary="Exchange a refresh token for a new pair (the old one stops working)",
)
async def refresh(request: web.Request, *, body: RefreshRequest) -> TokenPair:
    return _pair(await _service(request).refresh(body.refresh_token))


@routes.post(
    "/api/auth/logout",
    body=LogoutRequest,
    response=SuccessMessage,
    summary="Revoke a refresh token and every token rotated from it",
)
async def logout(request: web.Request, *, body: LogoutRequest) -> SuccessMessage:
    await _service(request).logout(body.refresh_token)
    return SuccessMessage(message="Logged out")


@routes.get(
    "/api/auth/me",
    response=MeResponse,
    auth=Auth.required,
    errors=(404,),
    summary="The signed-in user and their totals",
)
async def me(request: web.Request, *, user: AccessClaims) -> MeResponse:
    account = await _service(request).me(user)
    return MeResponse(
        user=MeUser.model_validate(account, from_attributes=True),
        profile=MeProfile.model_validate(account, from_attributes=True),
    )


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
    signed = await _service(request).sign_up(
        email=str(body.email),
        password=body.password,
        username=body.username,
        display_name=body.display_name,
    )
    return _signed_in(signed, "Account created successfully")


@routes.post(
    "/api/auth/sign-in",
    limit="auth",
    body=SignInRequest,
    response=AuthResponse,
    errors=(401,),
    summary="Torrent app: sign in with email and password",
)
async def sign_in(request: web.Request, *, body: SignInRequest) -> AuthResponse:
    signed = await _service(request).login(login=str(body.email), password=body.password)
    return _signed_in(signed, "Login successful")
