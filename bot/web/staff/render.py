"""Staff pages from Jinja2 templates (`templates/`), autoescaped: patient text
reaches a page only through the template engine's escaping, never through
HTML put together in Python."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web

TEMPLATES = web.AppKey("staff_templates", jinja2.Environment)

NOTICES = {
    "replied": "Reply sent. The patient's chat window shows it if it is still open.",
    "resolved": "Ticket resolved.",
    "dismissed": "Ticket dismissed.",
    "taught": "The bot has learned this question and is already using it. Ticket resolved.",
    "draft-phrasing": "Saved as a draft. Patients get it once a clinician approves it "
                      "(Drafts page); the ticket stays open until then.",
    "drafted": "New entry saved as a draft. Patients see it once a clinician approves it "
               "(Drafts page); the ticket stays open until then.",
    "published": "Published: patients get the new entry now, on every server. "
                 "Ticket resolved.",
    "published-phrasing": "Published: the bot uses this wording now, on every server. "
                          "Ticket resolved.",
    "rejected": "Draft rejected. It is kept with your reason; patients never see it.",
    "signed-out": "You are signed out.",
}

# Bidirectional controls in a patient's words could reorder the page around
# them; they are removed, and the `patient` macro isolates the words in a bdi element.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def no_bidi(text: str | None) -> str:
    return _BIDI_CONTROLS.sub("", text or "")


def short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def clinic_time(zone: str) -> Any:
    """The store's times (naive UTC, ISO) as the clinic's wall time, with its zone."""
    where = ZoneInfo(zone)

    def shown(value: str | None) -> str:
        if not value:
            return ""
        try:
            moment = dt.datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(where).strftime("%Y-%m-%d %H:%M %Z")

    return shown


def environment(zone: str = "UTC") -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
        autoescape=True,  # every page; no template may turn it off
        undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True)
    env.filters.update(no_bidi=no_bidi, short=short, path=lambda v: quote(str(v)),
                       clinic_time=clinic_time(zone))
    return env


def render(request: web.Request, template: str, status: int = 200,
           **context: Any) -> web.Response:
    """A page, never cached; every page may show the notice named in `?notice=`."""
    context.setdefault("staff", None)
    context.setdefault("current", "")
    context["notice"] = NOTICES.get(request.query.get("notice", ""))
    body = request.app[TEMPLATES].get_template(template).render(context)
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "no-store"})
