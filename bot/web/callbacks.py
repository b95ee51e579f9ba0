"""POST /api/v1/callbacks: a patient asks a nurse to call them back.

The session's own token (X-Session-Token, as for staff replies) is required,
so only the patient's chat can attach a number to its tickets. The request
is sealed before it reaches the store (`bot.callbacks`), goes on the
session's open ticket (or a new handoff ticket), and is never logged: errors
name the field, never its value.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from ..callbacks import CallbackRequest, Sealer
from .keys import SETTINGS, STORE, TOKENS
from .requests import check_rate, read_json, session_field

CALLBACK_NOTE = "The patient asked for a call back (details on this ticket, staff only)."


async def post_callback(request: web.Request) -> web.Response:
    await check_rate(request)
    sealer = Sealer(request.app[SETTINGS].callback_key)
    if not sealer.ready:
        # A refusal by configuration, not an outage: 403, so no client retries it.
        raise web.HTTPForbidden(reason="call-backs are turned off here (no callback_key); "
                                       "please call the clinic")
    data = await read_json(request)
    session_id = session_field(data, "session_id")
    if not session_id:
        raise web.HTTPBadRequest(reason="'session_id' is required")
    if not request.app[TOKENS].verify(session_id, request.headers.get("X-Session-Token")):
        raise web.HTTPUnauthorized(reason="this session's token is required in X-Session-Token")
    try:
        wanted = CallbackRequest.from_json(data)
    except ValueError as exc:
        raise web.HTTPBadRequest(reason=str(exc)) from None
    sealed = sealer.seal(wanted)
    store = request.app[STORE]
    ticket_id = await asyncio.to_thread(store.latest_open_ticket, session_id)
    if ticket_id is None:
        ticket_id = await asyncio.to_thread(
            store.open_ticket, kind="handoff", session_id=session_id, message=CALLBACK_NOTE,
            summary="handoff (call-back requested)")
    await asyncio.to_thread(store.add_callback, ticket_id, sealed)
    return web.json_response({"ok": True, "ticket_id": ticket_id})


def setup_callbacks(app: web.Application) -> None:
    app.router.add_post("/api/v1/callbacks", post_callback)
