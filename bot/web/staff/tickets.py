"""One ticket: its page, and the forms on it (reply, resolve, dismiss, teach).

Store calls run in a thread; teaching goes through `bot.teaching`, whose
corpus rebuild runs in a worker thread, so no patient waits for it.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from aiohttp import web

from ...callbacks import Sealer
from ...domain import PROCEDURES, TOPICS, Ticket
from ..keys import BOT, ENGINE, SETTINGS, STORE, TEACHING, Handler
from .guard import Staff, form_str, read_form, staff_page
from .render import render, short
from .signin import redirect

MAX_REPLY_CHARS = 4000


async def _ticket(request: web.Request) -> Ticket | None:
    row = await asyncio.to_thread(request.app[STORE].get_ticket,
                                  request.match_info["ticket_id"])
    return Ticket.from_row(row) if row is not None else None


def _not_found(request: web.Request, staff: Staff) -> web.Response:
    return render(request, "not_found.html", status=404, staff=staff)


async def _page(request: web.Request, ticket: Ticket, staff: Staff, error: str = "",
                status: int = 200) -> web.Response:
    teaching = request.app[TEACHING]
    loop = asyncio.get_running_loop()
    # Ranking the message again is the engine's work: its thread, not the loop.
    teach = teaching.enabled and ticket.kind == "fallback"
    choices = (await loop.run_in_executor(request.app.get(ENGINE), teaching.choices, ticket)
               if teach else [])
    find = request.query.get("find", "").strip()[:200]
    within = request.query.get("in", "")
    found = (await loop.run_in_executor(request.app.get(ENGINE), teaching.search, find, within)
             if teach and (find or within) else [])
    by_id = request.app[BOT].corpus.by_id
    # Call-back details are opened here only, for the signed-in staff member.
    sealer = Sealer(request.app[SETTINGS].callback_key)
    callbacks = [(row["created_at"], sealer.open(row["sealed"])) for row in
                 await asyncio.to_thread(request.app[STORE].callbacks_for, ticket.id)]
    return render(
        request, "ticket.html", status=status, staff=staff, ticket=ticket, error=error,
        callbacks=callbacks,
        questions={c.faq_id: by_id[c.faq_id].question for c in ticket.candidates
                   if c.faq_id in by_id},
        teaching=teaching.enabled, choices=choices, procedures=PROCEDURES, topics=TOPICS,
        procedure=ticket.procedure if ticket.procedure in PROCEDURES else "general",
        find=find, within=within if within in PROCEDURES else "", found=found,
        searched=bool(find or within))


@staff_page
async def ticket_page(request: web.Request, staff: Staff) -> web.StreamResponse:
    ticket = await _ticket(request)
    if ticket is None:
        return _not_found(request, staff)
    await asyncio.to_thread(request.app[STORE].audit, staff.username, "view", ticket.id)
    return await _page(request, ticket, staff)


async def _reply(request: web.Request, ticket: Ticket, form: Any, staff: Staff) -> str:
    text = form_str(form, "text").strip()
    if not text or len(text) > MAX_REPLY_CHARS:
        raise ValueError(f"Write a reply of 1 to {MAX_REPLY_CHARS} characters.")
    store = request.app[STORE]
    await asyncio.to_thread(store.reply_to_ticket, ticket.id, text, staff.username)
    await asyncio.to_thread(store.audit, staff.username, "reply", ticket.id, short(text, 200))
    return "replied"


async def _close(request: web.Request, ticket: Ticket, action: str, staff: Staff) -> str:
    status = "resolved" if action == "resolve" else "dismissed"
    store = request.app[STORE]
    await asyncio.to_thread(store.set_status, ticket.id, status, staff.username)
    await asyncio.to_thread(store.audit, staff.username, action, ticket.id)
    return status


async def _teach(request: web.Request, ticket: Ticket, form: Any, staff: Staff) -> str:
    teaching = request.app[TEACHING]
    mode = form_str(form, "mode")
    if mode == "alternate":
        taught = await asyncio.to_thread(
            teaching.add_phrasing, ticket, form_str(form, "entry_id"),
            form_str(form, "phrasing"), staff.username)
    elif mode == "new":
        taught = await asyncio.to_thread(
            teaching.add_entry, ticket, form_str(form, "question"), form_str(form, "answer"),
            form_str(form, "procedure"), form_str(form, "topic"), staff.username)
    else:
        raise ValueError("Unknown teaching choice.")
    return taught.notice


def _ticket_action(action: str) -> Handler:
    @staff_page
    async def handler(request: web.Request, staff: Staff) -> web.StreamResponse:
        ticket = await _ticket(request)
        if ticket is None:
            return _not_found(request, staff)
        form = await read_form(request)
        try:
            if action == "reply":
                notice = await _reply(request, ticket, form, staff)
            elif action in ("resolve", "dismiss"):
                notice = await _close(request, ticket, action, staff)
            else:
                notice = await _teach(request, ticket, form, staff)
        except ValueError as exc:
            return await _page(request, ticket, staff, error=str(exc), status=400)
        return redirect(f"/staff/tickets/{quote(ticket.id)}?notice={notice}")

    handler.__name__ = f"ticket_{action}"
    return handler


ACTIONS: dict[str, Handler] = {a: _ticket_action(a) for a in ("reply", "resolve", "dismiss",
                                                               "teach")}
