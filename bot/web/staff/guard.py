"""What stands before every staff page: a server-side session (the cookie
names a row in the store, so logout, a password reset and `remove-user` end
it), the CSRF token derived from it on every POST, and the bearer token or
session for the JSON API."""

from __future__ import annotations

import asyncio
import hmac
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ..auth import COOKIE, IDLE_SECONDS, SESSION_SECONDS, LoginThrottle, Signer
from ..keys import SETTINGS, STORE, Handler
from .render import render

SIGNER = web.AppKey("staff_signer", Signer)
THROTTLE = web.AppKey("login_throttle", LoginThrottle)
# Where a sign-in may send the browser next: staff pages only, never elsewhere.
NEXT_OK = re.compile(r"/staff(/[A-Za-z0-9_\-/]*)?\Z")


class Staff:
    """The signed-in user of a staff page, with the CSRF token for its forms."""

    def __init__(self, username: str, token: str, csrf: str) -> None:
        self.username = username
        self.token = token  # the session cookie's value
        self.csrf = csrf


StaffHandler = Callable[[web.Request, Staff], Awaitable[web.StreamResponse]]


async def session_user(request: web.Request) -> tuple[str, str] | None:
    """(username, cookie value) for a live session cookie, else None."""
    token = request.cookies.get(COOKIE)
    if not token or len(token) > 128:
        return None
    username = await asyncio.to_thread(request.app[STORE].staff_session_user, token,
                                       idle=IDLE_SECONDS, absolute=SESSION_SECONDS)
    if username is None:
        return None
    return username, token


def login_redirect(request: web.Request) -> web.HTTPFound:
    target = "/staff/login"
    if request.method == "GET" and NEXT_OK.match(request.path) and request.path != "/staff/login":
        target += "?" + urlencode({"next": request.path})
    return web.HTTPFound(target)


async def read_form(request: web.Request) -> Any:
    """The posted form; a 400 when its body cannot be decoded (a multipart body
    without a boundary or with a broken part header, bytes that are not the
    declared charset, an unknown charset) instead of a 500."""
    try:
        form = await request.post()
    except (ValueError, LookupError, HttpProcessingError):
        raise web.HTTPBadRequest(reason="malformed form body") from None
    for value in form.values():
        if isinstance(value, web.FileField):
            value.file.close()  # no staff form takes a file: drop the spooled upload
    return form


def form_str(form: Any, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def forbidden(request: web.Request) -> web.Response:
    return render(request, "forbidden.html", status=403)


def staff_page(handler: StaffHandler) -> Handler:
    """An HTML route: needs a session (else redirect), and on POST a CSRF token (else 403)."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        session = await session_user(request)
        if session is None:
            raise login_redirect(request)
        username, token = session
        signer = request.app[SIGNER]
        if request.method == "POST":
            form = await read_form(request)
            if not signer.check_csrf(token, form_str(form, "csrf")):
                return forbidden(request)
        response = await handler(request, Staff(username, token, signer.csrf_token(token)))
        response.headers["Cache-Control"] = "no-store"
        return response

    wrapped.__name__ = handler.__name__
    return wrapped


async def api_user(request: web.Request) -> str | None:
    """Who calls the JSON API: the bearer `staff_token`, or a signed-in session."""
    header = request.headers.get("Authorization", "")
    expected = request.app[SETTINGS].staff_token
    if header.startswith("Bearer "):
        given = header.removeprefix("Bearer ").strip()
        if expected and hmac.compare_digest(given.encode(), expected.encode()):
            return "api-token"
        return None
    session = await session_user(request)
    return session[0] if session else None
