"""The queue, insights and audit pages: read from the store (in a thread),
hand the rows to a template."""

from __future__ import annotations

import asyncio

from aiohttp import web

from ...domain import Ticket
from ...insights import insights
from ...store import KINDS, STATUSES
from ..keys import STORE
from .guard import Staff, staff_page
from .render import render


def _first(ticket: Ticket) -> tuple[bool, bool]:
    # Urgent emergencies first, then other urgent tickets, newest first within each.
    return (not ticket.is_emergency, not ticket.urgent)


@staff_page
async def queue_page(request: web.Request, staff: Staff) -> web.StreamResponse:
    status = request.query.get("status", "open")
    status = status if status in STATUSES else ""
    kind = request.query.get("kind", "")
    kind = kind if kind in KINDS else ""
    search = request.query.get("q", "").strip()[:200]
    rows = await asyncio.to_thread(request.app[STORE].list_tickets, status=status or None,
                                   kind=kind or None, search=search or None)
    tickets = sorted((Ticket.from_row(row) for row in rows), key=_first)
    described = ", ".join(x for x in (status or "any status", kind or "any kind",
                                      f'matching "{search}"' if search else "") if x)
    return render(request, "queue.html", staff=staff, current="/staff", tickets=tickets,
                  statuses=STATUSES, kinds=KINDS, chosen_status=status, chosen_kind=kind,
                  search=search,
                  described=described,
                  urgent_open=sum(1 for t in tickets if t.urgent and t.is_open))


@staff_page
async def insights_page(request: web.Request, staff: Staff) -> web.StreamResponse:
    data = await asyncio.to_thread(insights, request.app[STORE])
    return render(request, "insights.html", staff=staff, current="/staff/insights",
                  gaps=data["gaps"], daily=data["daily"], feedback=data["feedback"])


@staff_page
async def audit_page(request: web.Request, staff: Staff) -> web.StreamResponse:
    entries = await asyncio.to_thread(request.app[STORE].audit_entries, limit=500)
    return render(request, "audit.html", staff=staff, current="/staff/audit", entries=entries)
