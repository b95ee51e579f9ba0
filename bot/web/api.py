"""The patient-facing routes: messages, feedback, staff replies for a session,
health, the OpenAPI description and the chat page's static files."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from aiohttp import web

from ..redact import redact
from ..session_tokens import new_session_id
from ..version import version
from .keys import BOT, READINESS, SETTINGS, STORE, TOKENS, Handler
from .openapi import OPENAPI
from .replies import answer
from .requests import (
    check_rate,
    client_session,
    message_text,
    owns_session,
    presented_token,
    read_json,
    session_field,
    text_field,
)
from .starters import setup_starters

STATIC = Path(__file__).resolve().parent / "static"
READY_TIMEOUT = 1.0  # seconds each /readyz check may take


async def post_message(request: web.Request) -> web.Response:
    data = await read_json(request)
    text = await message_text(request, data, "text")
    session_id = client_session(data, "session_id")
    owner = await owns_session(request, session_id, presented_token(request, data))
    session_id = session_id or new_session_id()
    reply = await answer(request, text, session_id)
    token = request.app[TOKENS].issue(session_id) if owner else ""
    return web.json_response(replace(reply, session_token=token).to_json())


async def post_feedback(request: web.Request) -> web.Response:
    await check_rate(request)
    data = await read_json(request)
    session_id = session_field(data, "session_id")
    if not session_id:
        raise web.HTTPBadRequest(reason="'session_id' is required")
    helpful = data.get("helpful")
    if not isinstance(helpful, bool):
        raise web.HTTPBadRequest(reason="'helpful' must be true or false")
    faq_id = data.get("faq_id")
    if faq_id is not None and (not isinstance(faq_id, str) or len(faq_id) > 128):
        raise web.HTTPBadRequest(reason="'faq_id' must be a string")
    comment = text_field(data, "comment", request.app[SETTINGS], required=False)
    ticket = await asyncio.to_thread(request.app[STORE].add_feedback, session_id, faq_id,
                                     helpful, redact(comment) if comment else None)
    return web.json_response({"ok": True, "ticket_id": ticket})


async def get_staff_messages(request: web.Request) -> web.Response:
    await check_rate(request)
    session_id = request.match_info["session_id"]
    if not request.app[TOKENS].verify(session_id, request.headers.get("X-Session-Token")):
        raise web.HTTPUnauthorized(reason="this session's token is required in X-Session-Token")
    after_raw = request.query.get("after", "0")
    if not (after_raw.isascii() and after_raw.isdigit()) or len(after_raw) > 12:
        raise web.HTTPBadRequest(reason="'after' must be a whole number")
    messages = await asyncio.to_thread(request.app[STORE].staff_messages_for, session_id,
                                       int(after_raw))
    return web.json_response({"messages": messages})


async def healthz(request: web.Request) -> web.Response:
    bot = request.app[BOT]
    return web.json_response({"status": "ok", "entries": len(bot.corpus.entries),
                              "corpus_version": bot.corpus.version})


async def readyz(request: web.Request) -> web.Response:
    """200 when the index is loaded and the store and Redis answer, else 503
    (each check's outcome in the body). /healthz only says the process is alive."""
    async def check(call: Callable[[], object]) -> str:
        try:
            await asyncio.wait_for(asyncio.to_thread(call), READY_TIMEOUT)
        except TimeoutError:
            return f"no answer within {READY_TIMEOUT:g} s"
        except Exception as exc:
            return f"unreachable ({type(exc).__name__})"
        return "ok"

    checks = request.app[READINESS]
    outcomes = await asyncio.gather(*(check(call) for call in checks.values()))
    results = dict(zip(checks, outcomes, strict=True))
    ready = all(outcome == "ok" for outcome in outcomes)
    body: dict[str, object] = {"status": "ready" if ready else "not ready",
                               "version": version(), "checks": results}
    spool = getattr(request.app[BOT].tickets, "spool", None)
    if spool is not None:
        body["spooled_tickets"] = await asyncio.to_thread(spool.pending)
    return web.json_response(body, status=200 if ready else 503)


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(OPENAPI)


def static_file(name: str, content_type: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        path = STATIC / name
        if not path.exists():
            raise web.HTTPNotFound()
        response = web.FileResponse(path, headers={"Content-Type": content_type})
        if name == "widget.js":
            # The widget is loaded by other sites' pages.
            response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
        return response

    return handler


async def static_asset(request: web.Request) -> web.StreamResponse:
    """A file of the static directory by name, anything else 404: aiohttp's own
    static route answered a 500 to a name longer than the file system allows."""
    name = request.match_info["filename"]
    if name not in {path.name for path in STATIC.iterdir() if path.is_file()}:
        raise web.HTTPNotFound()
    return web.FileResponse(STATIC / name)


def setup_api(app: web.Application) -> None:
    html = "text/html; charset=utf-8"
    r = app.router
    r.add_post("/api/v1/messages", post_message)
    r.add_post("/api/v1/feedback", post_feedback)
    r.add_get("/api/v1/sessions/{session_id}/messages", get_staff_messages)
    setup_starters(app)
    r.add_get("/healthz", healthz)
    r.add_get("/readyz", readyz)
    r.add_get("/api/openapi.json", openapi)
    r.add_get("/", static_file("index.html", html))
    r.add_get("/chat", static_file("index.html", html))
    r.add_get("/demo", static_file("demo.html", html))
    r.add_get("/widget.js", static_file("widget.js", "text/javascript; charset=utf-8"))
    r.add_get("/static/{filename}", static_asset)
