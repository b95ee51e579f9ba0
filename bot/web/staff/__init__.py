"""The staff console: queue, tickets, replies, teaching, insights, audit log.

Server-rendered HTML forms from Jinja2 templates with autoescape (the CSP
forbids inline scripts and styles; the look comes from /static/staff.css).
`guard.py` checks the session and CSRF token before any handler runs;
`signin.py` signs in and out; `pages.py` and `tickets.py` are thin handlers;
`drafts.py` reviews taught drafts; `api.py` is the JSON API for scripts (bearer token).
"""

from __future__ import annotations

from aiohttp import web

from ..auth import LoginThrottle, Signer
from ..keys import SETTINGS
from .api import api_ticket, api_tickets
from .drafts import draft_page, draft_publish, draft_reject, drafts_page
from .guard import SIGNER, THROTTLE
from .pages import audit_page, insights_page, queue_page
from .render import TEMPLATES, environment
from .signin import login_form, login_submit, logout
from .tickets import ACTIONS, ticket_page


def setup_staff(app: web.Application) -> None:
    secret = app[SETTINGS].staff_secret
    # Replicas that share staff_secret (settings file or FAQBOT_STAFF_SECRET)
    # accept each other's cookies; without it each process signs with its own
    # random secret.
    app[SIGNER] = Signer(secret.encode() if secret else None)
    app[THROTTLE] = LoginThrottle()
    # Every time on a page is the clinic's (clinic_timezone), with its zone shown.
    app[TEMPLATES] = environment(app[SETTINGS].clinic_timezone)
    r = app.router
    r.add_get("/staff/login", login_form)
    r.add_post("/staff/login", login_submit)
    r.add_post("/staff/logout", logout)
    r.add_get("/staff", queue_page)
    r.add_get("/staff/", queue_page)
    r.add_get("/staff/tickets/{ticket_id}", ticket_page)
    for action, handler in ACTIONS.items():
        r.add_post(f"/staff/tickets/{{ticket_id}}/{action}", handler)
    r.add_get("/staff/drafts", drafts_page)
    r.add_get("/staff/drafts/{draft_id}", draft_page)
    r.add_post("/staff/drafts/{draft_id}/publish", draft_publish)
    r.add_post("/staff/drafts/{draft_id}/reject", draft_reject)
    r.add_get("/staff/insights", insights_page)
    r.add_get("/staff/audit", audit_page)
    r.add_get("/staff/api/tickets", api_tickets)
    r.add_get("/staff/api/tickets/{ticket_id}", api_ticket)


__all__ = ["SIGNER", "setup_staff"]
