"""Sign-in and sign-out. Failed attempts are throttled per user and per client
before Argon2 runs; the login form carries its own CSRF token, tied to a
short-lived cookie because there is no session yet."""

from __future__ import annotations

import asyncio
import secrets

from aiohttp import web

from ..auth import COOKIE, SESSION_SECONDS, USERNAME, verify_password
from ..keys import SETTINGS, STORE
from ..requests import client_address
from .guard import (
    NEXT_OK,
    SIGNER,
    THROTTLE,
    Staff,
    forbidden,
    form_str,
    read_form,
    session_user,
    staff_page,
)
from .render import render

LOGIN_COOKIE = "faqbot_staff_login"


def redirect(location: str) -> web.Response:
    """303 See Other: after a form POST the browser GETs the next page."""
    return web.Response(status=303, headers={"Location": location})


async def login_form(request: web.Request, error: str = "", status: int = 200) -> web.Response:
    if error == "" and await session_user(request) is not None:
        raise web.HTTPFound("/staff")
    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    next_path = request.query.get("next", "")
    response = render(request, "login.html", status=status, error=error,
                      csrf=request.app[SIGNER].csrf_token("login|" + nonce),
                      next_path=next_path if NEXT_OK.match(next_path) else "")
    response.set_cookie(LOGIN_COOKIE, nonce, max_age=3600, path="/staff/login", httponly=True,
                        samesite="Strict", secure=request.app[SETTINGS].secure_cookies)
    return response


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    signer = request.app[SIGNER]
    if not nonce or not signer.check_csrf("login|" + nonce, form_str(form, "csrf")):
        return forbidden(request)
    username = form_str(form, "username").strip()[:64]
    password = form_str(form, "password")[:1024]
    store = request.app[STORE]
    throttle = request.app[THROTTLE]
    client = client_address(request)
    wait = throttle.retry_after(username, client)
    if wait:
        # Refused before Argon2 runs, the right password included.
        response = await login_form(request, "Too many failed sign-ins. Please wait and try "
                                    "again.", status=429)
        response.headers["Retry-After"] = str(wait)
        return response
    stored = await asyncio.to_thread(store.password_hash, username) if username else None
    ok = await asyncio.to_thread(verify_password, stored, password)
    if not ok or not username:
        throttle.failed(username, client)
        if username and USERNAME.fullmatch(username):
            # Bounded by the throttle: at most 50 rows per client per window.
            await asyncio.to_thread(store.audit, username, "login-failed")
        return await login_form(request, "Wrong username or password.", status=401)
    await asyncio.to_thread(store.audit, username, "login")
    next_path = form_str(form, "next")
    response = redirect(next_path if NEXT_OK.match(next_path) else "/staff")
    session_token = await asyncio.to_thread(store.start_staff_session, username)
    response.set_cookie(COOKIE, session_token, max_age=SESSION_SECONDS, path="/staff",
                        httponly=True, samesite="Strict",
                        secure=request.app[SETTINGS].secure_cookies)
    response.del_cookie(LOGIN_COOKIE, path="/staff/login")
    return response


@staff_page
async def logout(request: web.Request, staff: Staff) -> web.StreamResponse:
    store = request.app[STORE]
    await asyncio.to_thread(store.audit, staff.username, "logout")
    await asyncio.to_thread(store.end_staff_session, staff.token)
    response = redirect("/staff/login?notice=signed-out")
    response.del_cookie(COOKIE, path="/staff")
    return response
