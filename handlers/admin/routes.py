"""The admin dashboard (000): server-rendered pages (aiohttp-jinja2) with a little JavaScript.

Why server-rendered: every page is a query and a table, every action a form; rendering them
here needs no build step, no CDN and no second API for a single-page app, and the forms post
with a CSRF token (server/http/cookies.py) under the same security headers as the rest.
Only admins get in: `/login` signs in through the same account service as the API and keeps
the access token in an HttpOnly, SameSite=Strict cookie; it ends with the token's lifetime
(ACCESS_TOKEN_EXPIRE_MINUTES), after which the dashboard asks to sign in again.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from core.errors import DomainError, Forbidden, Unauthorized
from core.roles import ADMIN, ROLES, course_role
from core.tokens import AccessClaims
from handlers.accounts.service import AccountService
from handlers.admin.service import AdminService
from server.http import cookies
from server.http.auth import TOKENS
from server.http.metrics import METRICS

TEMPLATES = Path(__file__).parent / "templates"
SERVICE = web.AppKey("admin", AdminService)
ACCOUNTS = web.AppKey("admin_accounts", AccountService)
# The realtime hub's open sockets, for the health widget (set by the composition root).
SOCKETS: web.AppKey[Callable[[], int]] = web.AppKey("admin_sockets")

routes = web.RouteTableDef()
View = Callable[..., Awaitable[web.StreamResponse]]


def _render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    context.setdefault("csrf", cookies.csrf_token(request))
    response = aiohttp_jinja2.render_template(template, request, context, status=status)
    response.headers["Cache-Control"] = "no-store"
    cookies.remember_csrf(request, response)
    return response


def _admin(request: web.Request) -> AccessClaims:
    token = cookies.session_token(request)
    if token is None:
        raise web.HTTPSeeOther("/login")
    try:
        claims = request.app[TOKENS].decode_access(token)
    except Unauthorized:
        raise web.HTTPSeeOther("/login?expired=1") from None
    if claims.role != ADMIN:
        raise Forbidden("The dashboard is for administrators")
    return claims


def page(view: View) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A dashboard page or action: signed-in admins only; errors as an HTML page."""

    @functools.wraps(view)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await view(request, _admin(request))
        except DomainError as exc:
            return _render(request, "error.html", exc.status, error=exc, user=None)

    return wrapped


def _uuid(request: web.Request, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise web.HTTPNotFound() from None


def _page_number(request: web.Request) -> int:
    raw = request.query.get("page", "1")
    return max(1, min(int(raw), 10_000)) if raw.isdigit() else 1


def _back(request: web.Request, default: str, notice: str) -> web.HTTPSeeOther:
    """Back to the list the form was on, with a notice."""
    target = request.headers.get("Referer", default)
    path = target.split("://", 1)[-1].partition("/")[2]
    path = "/" + path if path.startswith("admin") else default
    path = path.split("notice=")[0].rstrip("&?")
    joiner = "&" if "?" in path else "?"
    return web.HTTPSeeOther(f"{path}{joiner}notice={notice}")


# --- signing in and out --------------------------------------------------------------------


@routes.get("/login")
async def login_page(request: web.Request) -> web.Response:
    expired = "expired" in request.query
    return _render(request, "login.html", error="Session ended: sign in again" if expired else None)


@routes.post("/login")
async def login(request: web.Request) -> web.StreamResponse:
    try:
        form = await cookies.checked_form(request)
        signed = await request.app[ACCOUNTS].login(
            login=form.get("login", ""), password=form.get("password", "")
        )
    except DomainError as exc:
        return _render(request, "login.html", exc.status, error=exc.message)
    if signed.user.role != ADMIN:
        return _render(request, "login.html", 403, error="Only administrators can sign in here")
    response = web.Response(status=303, headers={"Location": "/admin"})
    lifetime = request.app[TOKENS].access_ttl.total_seconds()
    cookies.set_session(response, request, signed.tokens.access_token, int(lifetime))
    return response


@routes.post("/logout")
async def logout(request: web.Request) -> web.StreamResponse:
    await cookies.checked_form(request)
    response = web.Response(status=303, headers={"Location": "/login"})
    cookies.clear_session(response)
    return response


# --- pages -----------------------------------------------------------------------------------


@routes.get("/admin")
@page
async def overview(request: web.Request, user: AccessClaims) -> web.Response:
    health = await request.app[SERVICE].health_report()
    traffic = request.app[METRICS].traffic()
    return _render(
        request,
        "overview.html",
        user=user,
        health=health,
        sockets=request.app[SOCKETS](),
        traffic=traffic,
        queue_depth=sum(k.queued for k in health.jobs),
    )


@routes.get("/admin/users")
@page
async def users_page(request: web.Request, user: AccessClaims) -> web.Response:
    q = request.query.get("q", "").strip() or None
    role = request.query.get("role") or None
    if role not in (None, *ROLES):
        role = None
    found = await request.app[SERVICE].users(q=q, role=role, page=_page_number(request))
    return _render(
        request, "users.html", user=user, found=found, q=q or "", role=role or "", roles=ROLES,
        course_role=course_role, notice=request.query.get("notice"),
    )  # fmt: skip


@routes.post("/admin/users/{user_id}/role")
@page
async def change_role(request: web.Request, user: AccessClaims) -> web.StreamResponse:
    form = await cookies.checked_form(request)
    await request.app[SERVICE].set_role(_uuid(request, "user_id"), form.get("role", ""), by=user)
    raise _back(request, "/admin/users", "role-changed")


@routes.post("/admin/users/{user_id}/disable")
@page
async def disable_user(request: web.Request, user: AccessClaims) -> web.StreamResponse:
    form = await cookies.checked_form(request)
    disabled = form.get("disabled") == "1"
    await request.app[SERVICE].set_disabled(_uuid(request, "user_id"), disabled, by=user)
    raise _back(request, "/admin/users", "disabled" if disabled else "enabled")


@routes.post("/admin/users/{user_id}/delete")
@page
async def delete_user(request: web.Request, user: AccessClaims) -> web.StreamResponse:
    await cookies.checked_form(request)
    await request.app[SERVICE].erase_user(_uuid(request, "user_id"), by=user)
    raise _back(request, "/admin/users", "erased")


@routes.get("/admin/torrents")
@page
async def torrents_page(request: web.Request, user: AccessClaims) -> web.Response:
    q = request.query.get("q", "").strip()[:200] or None
    category = request.query.get("category") or None
    service = request.app[SERVICE]
    categories = await service.categories()
    if category not in {c.slug for c in categories}:
        category = None
    found = await service.torrent_page(q=q, category=category, page=_page_number(request))
    return _render(
        request, "torrents.html", user=user, found=found, q=q or "", category=category or "",
        categories=categories, notice=request.query.get("notice"),
    )  # fmt: skip


@routes.post("/admin/torrents/{torrent_id}/delete")
@page
async def delete_torrent(request: web.Request, user: AccessClaims) -> web.StreamResponse:
    await cookies.checked_form(request)
    await request.app[SERVICE].torrents.delete(_uuid(request, "torrent_id"), by=user)
    raise _back(request, "/admin/torrents", "deleted")


@routes.post("/admin/torrents/{torrent_id}/edit")
@page
async def edit_torrent(request: web.Request, user: AccessClaims) -> web.StreamResponse:
    form = await cookies.checked_form(request)
    name = form.get("name", "").strip()
    if not name or len(name) > 500:
        raise _back(request, "/admin/torrents", "name-invalid")
    await request.app[SERVICE].torrents.edit(
        _uuid(request, "torrent_id"), name=name, category=form.get("category", ""), by=user
    )
    raise _back(request, "/admin/torrents", "saved")


@routes.get("/admin/videos")
@page
async def videos_page(request: web.Request, user: AccessClaims) -> web.Response:
    q = request.query.get("q", "").strip()[:100] or None
    found = await request.app[SERVICE].video_page(q=q, page=_page_number(request))
    return _render(
        request, "videos.html", user=user, found=found, q=q or "",
        notice=request.query.get("notice"),
    )  # fmt: skip


@routes.post("/admin/videos/{video_id}/visibility")
@page
async def video_visibility(request: web.Request, user: AccessClaims) -> web.StreamResponse:
    form = await cookies.checked_form(request)
    visibility = form.get("visibility", "")
    if visibility not in ("public", "unlisted", "private"):
        raise _back(request, "/admin/videos", "visibility-invalid")
    await request.app[SERVICE].videos.update(
        _uuid(request, "video_id"), editor=user, changes={"visibility": visibility}
    )
    raise _back(request, "/admin/videos", "saved")


@routes.post("/admin/videos/{video_id}/delete")
@page
async def delete_video(request: web.Request, user: AccessClaims) -> web.StreamResponse:
    await cookies.checked_form(request)
    await request.app[SERVICE].videos.delete(_uuid(request, "video_id"), editor=user)
    raise _back(request, "/admin/videos", "deleted")


@routes.get("/admin/comments")
@page
async def comments_page(request: web.Request, user: AccessClaims) -> web.Response:
    q = request.query.get("q", "").strip()[:100] or None
    found = await request.app[SERVICE].comment_page(q=q, page=_page_number(request))
    return _render(
        request, "comments.html", user=user, found=found, q=q or "",
        notice=request.query.get("notice"),
    )  # fmt: skip


@routes.post("/admin/comments/{comment_id}/delete")
@page
async def delete_comment(request: web.Request, user: AccessClaims) -> web.StreamResponse:
    await cookies.checked_form(request)
    await request.app[SERVICE].comments.delete(_uuid(request, "comment_id"), editor=user)
    raise _back(request, "/admin/comments", "deleted")


@routes.get("/admin/api-keys")
@page
async def keys_page(request: web.Request, user: AccessClaims) -> web.Response:
    keys = await request.app[SERVICE].keys(user)
    return _render(
        request, "api_keys.html", user=user, keys=keys, created=None,
        notice=request.query.get("notice"),
    )  # fmt: skip


@routes.post("/admin/api-keys")
@page
async def create_key(request: web.Request, user: AccessClaims) -> web.Response:
    form = await cookies.checked_form(request)
    name = form.get("name", "").strip()
    service = request.app[SERVICE]
    if not name or len(name) > 100:
        keys = await service.keys(user)
        return _render(
            request, "api_keys.html", 400, user=user, keys=keys, created=None,
            notice="name-invalid",
        )  # fmt: skip
    created = await service.new_key(user, name)
    # The key is in this answer only: the page after a reload no longer has it.
    return _render(
        request, "api_keys.html", 201, user=user, keys=await service.keys(user),
        created=created, notice=None,
    )  # fmt: skip


@routes.post("/admin/api-keys/{key_id}/revoke")
@page
async def revoke_key(request: web.Request, user: AccessClaims) -> web.StreamResponse:
    await cookies.checked_form(request)
    await request.app[SERVICE].api_keys.revoke(user, _uuid(request, "key_id"))
    raise _back(request, "/admin/api-keys", "revoked")


def setup(app: web.Application, service: AdminService, accounts: AccountService) -> None:
    """Serve the dashboard: its templates (autoescaped), service and pages."""
    aiohttp_jinja2.setup(
        app, loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=jinja2.select_autoescape()
    )
    app[SERVICE] = service
    app[ACCOUNTS] = accounts
    app.router.add_routes(routes)
