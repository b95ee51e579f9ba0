"""The staff JSON API under /staff/api, for scripts: a bearer `staff_token`
or a signed-in session."""

from __future__ import annotations

import asyncio

from aiohttp import web

from ...store import KINDS, STATUSES
from ..keys import STORE
from ..requests import json_error
from .guard import api_user

NO_STORE = {"Cache-Control": "no-store"}


def _unauthorized() -> web.Response:
    return json_error(401, "sign in or send Authorization: Bearer <staff_token>",
                      headers={"WWW-Authenticate": "Bearer"})


async def api_tickets(request: web.Request) -> web.Response:
    if await api_user(request) is None:
        return _unauthorized()
    status = request.query.get("status") or None
    kind = request.query.get("kind") or None
    if status and status not in STATUSES:
        return json_error(400, f"'status' must be one of {', '.join(STATUSES)}")
    if kind and kind not in KINDS:
        return json_error(400, f"'kind' must be one of {', '.join(KINDS)}")
    rows = await asyncio.to_thread(request.app[STORE].list_tickets, status=status, kind=kind,
                                   search=request.query.get("q") or None)
    return web.json_response({"tickets": rows, "count": len(rows)}, headers=NO_STORE)


async def api_ticket(request: web.Request) -> web.Response:
    user = await api_user(request)
    if user is None:
        return _unauthorized()
    store = request.app[STORE]
    ticket = await asyncio.to_thread(store.get_ticket, request.match_info["ticket_id"])
    if ticket is None:
        return json_error(404, "no such ticket")
    await asyncio.to_thread(store.audit, user, "view", ticket["id"], "api")
    return web.json_response(ticket, headers=NO_STORE)
