"""Browser sessions for the server-rendered pages (the admin dashboard): the access token in an
HttpOnly, SameSite=Strict cookie (Secure when the request came over TLS), and CSRF protection
by double submit: every form carries the value of a random CSRF cookie, which a page on
another site can neither read nor set, and every POST must send both, equal."""

from __future__ import annotations

import hmac
import secrets

from aiohttp import web
from multidict import MultiDict, MultiDictProxy

from core.errors import Forbidden

SESSION_COOKIE = "sh_session"
# A CSRF value minted for this request, to set as a cookie on its response.
_MINTED = web.RequestKey("minted_csrf", str)
CSRF_COOKIE = "sh_csrf"
CSRF_FIELD = "csrf_token"


def _secure(request: web.Request) -> bool:
    return request.secure or request.headers.get("X-Forwarded-Proto", "") == "https"


def set_session(
    response: web.StreamResponse, request: web.Request, token: str, max_age: int
) -> None:
    response.set_cookie(
        SESSION_COOKIE, token, max_age=max_age, path="/", httponly=True, samesite="Strict",
        secure=_secure(request),
    )  # fmt: skip


def clear_session(response: web.StreamResponse) -> None:
    response.del_cookie(SESSION_COOKIE, path="/")


def session_token(request: web.Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None


def csrf_token(request: web.Request) -> str:
    """The CSRF value for this browser (a new one when it has none; `remember_csrf` sets it)."""
    existing = request.cookies.get(CSRF_COOKIE)
    if existing:
        return existing
    if _MINTED not in request:
        request[_MINTED] = secrets.token_urlsafe(32)
    return request[_MINTED]


def remember_csrf(request: web.Request, response: web.StreamResponse) -> None:
    """Set the CSRF cookie if this request minted a value."""
    minted = request.get(_MINTED)
    if minted:
        response.set_cookie(
            CSRF_COOKIE, minted, path="/", httponly=True, samesite="Strict",
            secure=_secure(request),
        )  # fmt: skip


async def checked_form(request: web.Request) -> MultiDictProxy[str]:
    """The posted form, after its CSRF field matched the browser's CSRF cookie (else 403)."""
    form = await request.post()
    sent = form.get(CSRF_FIELD)
    cookie = request.cookies.get(CSRF_COOKIE)
    if not (isinstance(sent, str) and cookie and hmac.compare_digest(sent, cookie)):
        raise Forbidden("The form's CSRF token is missing or wrong: reload the page and retry")
    return MultiDictProxy(MultiDict([(k, v) for k, v in form.items() if isinstance(v, str)]))
