"""Accounts over HTTP: CLUTCH's register/login/refresh/me/logout, the torrent app's
sign-up/sign-in, and OpenCourse's email confirmation and password reset."""

from __future__ import annotations

from aiohttp import web

from core.tokens import AccessClaims
from handlers.accounts.models import (
    AuthResponse,
    AuthUser,
    EmailVerified,
    LoginRequest,
    LogoutRequest,
    MeProfile,
    MeResponse,
    MeUser,
    PasswordResetConfirm,
    PasswordResetRequest,
    RefreshRequest,
    RegisterRequest,
    SignInRequest,
    SignUpRequest,
    TokenPair,
    VerifyEmailRequest,
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


# --- accounts by email (OpenCourse) -------------------------------------------------------

RESET_ANSWER = (
    "If an account uses this address, a link to reset its password is on its way."
    " It works once and expires in a while; check your spam folder."
)


@routes.post(
    "/api/auth/verify-email",
    body=VerifyEmailRequest,
    response=EmailVerified,
    auth=Auth.optional,
    limit="auth",
    errors=(400, 401, 403),
    summary="Confirm an email address with the token of the link we mailed",
    description=(
        "The link in the confirmation mail opens `/verify-email?token=...`, a page that posts"
        " the token here. Each token works once and expires (EMAIL_VERIFICATION_TTL_HOURS)."
        " Signed in as another account, the link is refused (403) and stays unused."
        " A bad token is a 400 `INVALID_TOKEN` whose `details.reason` says why: `unknown`,"
        " `used`, `expired` or `stale` (the account's address changed since)."
    ),
)
async def verify_email(
    request: web.Request, *, user: AccessClaims | None, body: VerifyEmailRequest
) -> EmailVerified:
    account = await _service(request).emails.confirm_email(body.token, user)
    return EmailVerified(
        message="Email address confirmed", email=account.email, email_verified=True
    )


@routes.post(
    "/api/auth/verify-email/resend",
    response=SuccessMessage,
    status=202,
    auth=Auth.required,
    limit="auth",
    errors=(401,),
    summary="Mail a new confirmation link to the signed-in account's address",
)
async def resend_verification(request: web.Request, *, user: AccessClaims) -> SuccessMessage:
    sent = await _service(request).emails.resend_verification(user)
    return SuccessMessage(
        message="A new confirmation link is on its way" if sent else "Already confirmed"
    )


@routes.post(
    "/api/auth/password-reset",
    body=PasswordResetRequest,
    response=SuccessMessage,
    status=202,
    limit="auth",
    errors=(400,),
    summary="Mail a password reset link (the same answer whether or not the address is known)",
    description=(
        "Rate limited per client address (the `auth` budget) and per account"
        " (PASSWORD_RESETS_PER_HOUR mails an hour; beyond that the answer is the same and"
        " nothing is sent)."
    ),
)
async def request_password_reset(
    request: web.Request, *, body: PasswordResetRequest
) -> SuccessMessage:
    await _service(request).emails.request_password_reset(body.email)
    return SuccessMessage(message=RESET_ANSWER)


@routes.post(
    "/api/auth/password-reset/confirm",
    body=PasswordResetConfirm,
    response=SuccessMessage,
    limit="auth",
    errors=(400,),
    summary="Set a new password with the token of the reset link; signs out every session",
    description=(
        "The token works once (and spends every other reset link of the account). Every"
        " refresh token of the account is revoked; access tokens already issued end with"
        " their short lifetime (ACCESS_TOKEN_EXPIRE_MINUTES)."
    ),
)
async def confirm_password_reset(
    request: web.Request, *, body: PasswordResetConfirm
) -> SuccessMessage:
    await _service(request).emails.reset_password(body.token, body.new_password)
    return SuccessMessage(message="Password changed: sign in with the new one")
