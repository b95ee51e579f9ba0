"""The staff console: queue, tickets, replies, teaching, insights, audit log.

Plain server-rendered HTML forms (the CSP forbids inline scripts and styles;
the look comes from /static/staff.css). Every page but the login page needs a
signed session cookie; every POST needs the CSRF token derived from it; every
piece of patient text is escaped with `html.escape` before it reaches a page.
Scripts use the JSON API under /staff/api with a bearer token.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web

from ..corpus import load_corpus
from ..domain import PROCEDURES, TOPICS
from ..store import KINDS, STATUSES
from .app import BOT, SETTINGS, STORE, client_address, json_error
from .auth import (
    COOKIE,
    IDLE_SECONDS,
    SESSION_SECONDS,
    USERNAME,
    LoginThrottle,
    Signer,
    verify_password,
)

SIGNER = web.AppKey("staff_signer", Signer)
THROTTLE = web.AppKey("login_throttle", LoginThrottle)
TEACH_LOCK = web.AppKey("staff_teach_lock", asyncio.Lock)
LOGIN_COOKIE = "faqbot_staff_login"
MAX_REPLY_CHARS = 4000
_NEXT_OK = re.compile(r"/staff(/[A-Za-z0-9_\-/]*)?\Z")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

NOTICES = {
    "replied": "Reply sent. The patient's chat window shows it if it is still open.",
    "resolved": "Ticket resolved.",
    "dismissed": "Ticket dismissed.",
    "taught": "The bot has learned this question and is already using it. Ticket resolved.",
    "drafted": "New entry added to the corpus (owner: Staff draft) and live now. "
               "Ticket resolved. Ask the entry's owner to review the wording.",
    "signed-out": "You are signed out.",
}


# ------------------------------------------------------------------ set-up


def setup_staff(app: web.Application) -> None:
    secret = os.environ.get("FAQBOT_STAFF_SECRET", "")
    # Replicas that share FAQBOT_STAFF_SECRET accept each other's cookies;
    # without it each process signs with its own random secret.
    app[SIGNER] = Signer(secret.encode() if secret else None)
    app[THROTTLE] = LoginThrottle()
    app[TEACH_LOCK] = asyncio.Lock()
    r = app.router
    r.add_get("/staff/login", login_form)
    r.add_post("/staff/login", login_submit)
    r.add_post("/staff/logout", logout)
    r.add_get("/staff", queue_page)
    r.add_get("/staff/", queue_page)
    r.add_get("/staff/tickets/{ticket_id}", ticket_page)
    for action in ("reply", "resolve", "dismiss", "teach"):
        r.add_post(f"/staff/tickets/{{ticket_id}}/{action}", ACTIONS[action])
    r.add_get("/staff/insights", insights_page)
    r.add_get("/staff/audit", audit_page)
    r.add_get("/staff/api/tickets", api_tickets)
    r.add_get("/staff/api/tickets/{ticket_id}", api_ticket)


# ------------------------------------------------------------------ auth


def _session(request: web.Request) -> tuple[str, str] | None:
    """(username, cookie value) for a valid session cookie, else None."""
    token = request.cookies.get(COOKIE)
    if not token or len(token) > 128:
        return None
    username = request.app[STORE].staff_session_user(token, idle=IDLE_SECONDS,
                                                     absolute=SESSION_SECONDS)
    if username is None:
        return None
    return username, token


def _login_redirect(request: web.Request) -> web.HTTPFound:
    target = "/staff/login"
    if request.method == "GET" and _NEXT_OK.match(request.path) and request.path != "/staff/login":
        target += "?" + urlencode({"next": request.path})
    return web.HTTPFound(target)


def staff_page(handler: Callable[[web.Request, str, str], Awaitable[web.StreamResponse]]
               ) -> Handler:
    """An HTML route: needs a session (else redirect), and on POST a CSRF token (else 403)."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        session = _session(request)
        if session is None:
            raise _login_redirect(request)
        username, token = session
        if request.method == "POST":
            form = await request.post()
            if not request.app[SIGNER].check_csrf(token, _form_str(form, "csrf")):
                return _html(_forbidden(), status=403)
        response = await handler(request, username, token)
        response.headers["Cache-Control"] = "no-store"
        return response

    wrapped.__name__ = handler.__name__
    return wrapped


def _api_user(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    expected = request.app[SETTINGS].staff_token
    if header.startswith("Bearer "):
        given = header.removeprefix("Bearer ").strip()
        if expected and hmac.compare_digest(given.encode(), expected.encode()):
            return "api-token"
        return None
    session = _session(request)
    return session[0] if session else None


def _form_str(form: Any, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


# ------------------------------------------------------------------ rendering


def _redirect(location: str) -> web.Response:
    """303 See Other: after a form POST the browser GETs the next page."""
    return web.Response(status=303, headers={"Location": location})


def _html(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "no-store"})


def _layout(title: str, content: str, *, username: str | None = None, csrf: str = "",
            current: str = "") -> str:
    nav = ""
    if username:
        links = []
        for href, label in (("/staff", "Queue"), ("/staff/insights", "Insights"),
                            ("/staff/audit", "Audit log")):
            mark = ' aria-current="page"' if href == current else ""
            links.append(f'<li><a href="{href}"{mark}>{label}</a></li>')
        nav = (f'<nav aria-label="Staff console"><ul>{"".join(links)}</ul></nav>'
               f'<form class="signout" method="post" action="/staff/logout">'
               f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
               f'<span>Signed in as <strong>{escape(username)}</strong></span> '
               f'<button type="submit" class="link">Sign out</button></form>')
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{escape(title)} · FAQ bot staff console</title>"
        '<link rel="stylesheet" href="/static/staff.css"></head><body>'
        '<a class="skip" href="#main">Skip to main content</a>'
        f'<header class="top"><p class="brand">Patient FAQ bot · staff console</p>{nav}</header>'
        f'<main id="main">{content}</main></body></html>'
    )


def _notice(request: web.Request) -> str:
    text = NOTICES.get(request.query.get("notice", ""))
    return f'<p class="notice" role="status">{escape(text)}</p>' if text else ""


def _error_box(message: str) -> str:
    if not message:
        return ""
    lines = "<br>".join(escape(line) for line in message.splitlines())
    return f'<div class="error" role="alert"><p><strong>Not done.</strong></p><p>{lines}</p></div>'


def _forbidden() -> str:
    return _layout("Forbidden", "<h1>That form has expired</h1><p>The security token was "
                   "missing or wrong. Go back, reload the page and try again.</p>"
                   '<p><a href="/staff">Back to the queue</a></p>')


def _not_found(username: str, csrf: str) -> web.Response:
    return _html(_layout("Not found", "<h1>No such ticket</h1><p>It may have been purged "
                         'after the retention period.</p><p><a href="/staff">Back to the '
                         "queue</a></p>", username=username, csrf=csrf), status=404)


def _badges(ticket: dict[str, Any]) -> str:
    out = []
    if ticket["urgent"]:
        out.append('<span class="badge urgent">Urgent</span>')
    out.append(f'<span class="badge kind-{escape(ticket["kind"])}">{escape(ticket["kind"])}</span>')
    return " ".join(out)


def _status(status: str) -> str:
    return f'<span class="status status-{escape(status)}">{escape(status)}</span>'


def _when(value: str | None) -> str:
    if not value:
        return ""
    return f'<time datetime="{escape(value)}Z">{escape(value.replace("T", " "))}</time>'


def _options(values: Iterable[str], selected: str, blank: str | None = None) -> str:
    out = [f'<option value=""{" selected" if not selected else ""}>{escape(blank)}</option>'] \
        if blank is not None else []
    for value in values:
        mark = " selected" if value == selected else ""
        out.append(f'<option value="{escape(value)}"{mark}>{escape(value)}</option>')
    return "".join(out)


def _hidden_csrf(csrf: str) -> str:
    return f'<input type="hidden" name="csrf" value="{escape(csrf)}">'


def _patient_text(text: str) -> str:
    """A patient's words, escaped and isolated: bidi control characters
    cannot reorder the page around them."""
    return f"<bdi>{escape(_BIDI_CONTROLS.sub('', text))}</bdi>"


_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# ------------------------------------------------------------------ login


async def login_form(request: web.Request, error: str = "", status: int = 200) -> web.Response:
    if error == "" and _session(request) is not None:
        raise web.HTTPFound("/staff")
    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    csrf = request.app[SIGNER].csrf_token("login|" + nonce)
    next_path = request.query.get("next", "")
    next_field = (f'<input type="hidden" name="next" value="{escape(next_path)}">'
                  if _NEXT_OK.match(next_path) else "")
    content = (
        '<div class="narrow"><h1>Sign in</h1>' + _notice(request) +
        (f'<p class="error" role="alert">{escape(error)}</p>' if error else "") +
        '<form method="post" action="/staff/login" class="stack">' + _hidden_csrf(csrf) +
        next_field +
        '<label for="username">Username</label>'
        '<input id="username" name="username" autocomplete="username" required autofocus>'
        '<label for="password">Password</label>'
        '<input id="password" name="password" type="password" '
        'autocomplete="current-password" required>'
        '<button type="submit">Sign in</button></form>'
        '<p class="hint">No account? Ask an administrator to run '
        "<code>faqbot staff add-user YOUR-NAME</code>.</p></div>"
    )
    response = _html(_layout("Sign in", content), status=status)
    response.set_cookie(LOGIN_COOKIE, nonce, max_age=3600, path="/staff/login", httponly=True,
                        samesite="Strict", secure=request.app[SETTINGS].secure_cookies)
    return response


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    signer = request.app[SIGNER]
    if not nonce or not signer.check_csrf("login|" + nonce, _form_str(form, "csrf")):
        return _html(_forbidden(), status=403)
    username = _form_str(form, "username").strip()[:64]
    password = _form_str(form, "password")[:1024]
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
    loop = asyncio.get_running_loop()
    stored = await loop.run_in_executor(None, store.password_hash, username) if username else None
    ok = await loop.run_in_executor(None, verify_password, stored, password)
    if not ok or not username:
        throttle.failed(username, client)
        if username and USERNAME.fullmatch(username):
            # Bounded by the throttle: at most 50 rows per client per window.
            store.audit(username, "login-failed")
        return await login_form(request, "Wrong username or password.", status=401)
    store.audit(username, "login")
    next_path = _form_str(form, "next")
    response = _redirect(next_path if _NEXT_OK.match(next_path) else "/staff")
    session_token = await loop.run_in_executor(None, store.start_staff_session, username)
    response.set_cookie(COOKIE, session_token, max_age=SESSION_SECONDS, path="/staff",
                        httponly=True, samesite="Strict",
                        secure=request.app[SETTINGS].secure_cookies)
    response.del_cookie(LOGIN_COOKIE, path="/staff/login")
    return response


@staff_page
async def logout(request: web.Request, username: str, token: str) -> web.StreamResponse:
    request.app[STORE].audit(username, "logout")
    request.app[STORE].end_staff_session(token)
    response = _redirect("/staff/login?notice=signed-out")
    response.del_cookie(COOKIE, path="/staff")
    return response


# ------------------------------------------------------------------ queue


@staff_page
async def queue_page(request: web.Request, username: str, token: str) -> web.StreamResponse:
    status = request.query.get("status", "open")
    status = status if status in STATUSES else ""
    kind = request.query.get("kind", "")
    kind = kind if kind in KINDS else ""
    search = request.query.get("q", "").strip()[:200]
    rows = request.app[STORE].list_tickets(status=status or None, kind=kind or None,
                                           search=search or None)
    # Urgent emergencies first, then other urgent tickets, newest first within each.
    rows.sort(key=lambda t: (not (t["urgent"] and t["kind"] == "emergency"), not t["urgent"]))
    csrf = request.app[SIGNER].csrf_token(token)
    filters = (
        '<form method="get" action="/staff" class="filters" role="search">'
        '<div><label for="f-status">Status</label>'
        f'<select id="f-status" name="status">{_options(STATUSES, status, "any")}</select></div>'
        '<div><label for="f-kind">Kind</label>'
        f'<select id="f-kind" name="kind">{_options(KINDS, kind, "any")}</select></div>'
        '<div class="grow"><label for="f-q">Search messages</label>'
        f'<input id="f-q" name="q" type="search" value="{escape(search)}"></div>'
        '<div><button type="submit">Show</button></div></form>'
    )
    urgent = sum(1 for t in rows if t["urgent"] and t["status"] == "open")
    alert = (f'<p class="alert" role="alert"><span class="badge urgent">Urgent</span> '
             f"{urgent} urgent ticket{'s' if urgent != 1 else ''} open: emergencies come "
             "first. The patient was told to call the emergency number; follow your unit's "
             "procedure.</p>") if urgent else ""
    body_rows = []
    for t in rows:
        css = ' class="urgent-row"' if t["urgent"] else ""
        body_rows.append(
            f"<tr{css}><td>{_badges(t)}</td>"
            f'<td><a href="/staff/tickets/{quote(t["id"])}">{escape(t["id"])}</a></td>'
            f"<td>{_status(t['status'])}</td><td>{_when(t['created_at'])}</td>"
            f"<td>{escape(t['procedure'] or '')}</td>"
            f"<td class=\"msg\">{_patient_text(_short(t['message']))}</td></tr>")
    described = ", ".join(x for x in (status or "any status", kind or "any kind",
                                      f'matching "{search}"' if search else "") if x)
    if body_rows:
        table = (
            '<table class="tickets"><caption>'
            f"{len(rows)} ticket{'s' if len(rows) != 1 else ''} ({escape(described)})"
            '</caption><thead><tr><th scope="col">Kind</th><th scope="col">Ticket</th>'
            '<th scope="col">Status</th><th scope="col">Created (UTC)</th>'
            '<th scope="col">Procedure</th><th scope="col">Patient message (redacted)</th>'
            f"</tr></thead><tbody>{''.join(body_rows)}</tbody></table>")
    else:
        table = f'<p class="empty">No tickets ({escape(described)}).</p>'
    content = f"<h1>Ticket queue</h1>{_notice(request)}{alert}{filters}{table}"
    return _html(_layout("Queue", content, username=username, csrf=csrf, current="/staff"))


# ------------------------------------------------------------------ ticket


def _teach_choices(request: web.Request, ticket: dict[str, Any]) -> list[tuple[str, float, str]]:
    """(faq_id, score, where from) for the ticket's candidates and a fresh ranking."""
    bot = request.app[BOT]
    by_id = bot.corpus.by_id
    choices: dict[str, tuple[float, str]] = {}
    for c in ticket["candidates"]:
        if c.get("faq_id") in by_id:
            choices[c["faq_id"]] = (float(c.get("score", 0.0)), "at the time")
    for m in bot.rank(ticket["message"])[:5]:
        if m.faq_id in by_id and m.faq_id not in choices:
            choices[m.faq_id] = (m.score, "now")
    return sorted(((k, s, w) for k, (s, w) in choices.items()), key=lambda x: -x[1])


def _render_ticket(request: web.Request, ticket: dict[str, Any], username: str, token: str,
                   error: str = "", status: int = 200) -> web.Response:
    bot = request.app[BOT]
    by_id = bot.corpus.by_id
    csrf = request.app[SIGNER].csrf_token(token)
    tid = quote(ticket["id"])
    hidden = _hidden_csrf(csrf)

    facts = [("Kind", _badges(ticket)), ("Status", _status(ticket["status"])),
             ("Created (UTC)", _when(ticket["created_at"])),
             ("Updated (UTC)", _when(ticket["updated_at"])),
             ("Procedure", escape(ticket["procedure"] or "unknown")),
             ("Handled by", escape(ticket["handled_by"] or "nobody yet"))]
    if ticket.get("notify_error"):
        facts.append(("Notification problem", escape(ticket["notify_error"])))
    facts_html = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)

    turns = ticket["turns"]
    if turns:
        items = []
        for turn in turns:
            tag = escape(turn.get("type") or "")
            if turn.get("faq_id"):
                tag += f" · {escape(turn['faq_id'])}"
            items.append(f'<li><p class="patient"><span class="who">Patient</span> '
                         f"{_patient_text(turn.get('user') or '')}</p>"
                         f'<p class="bot"><span class="who">Bot ({tag})</span> '
                         f"{escape(turn.get('bot') or '')}</p></li>")
        transcript = f'<ol class="transcript">{"".join(items)}</ol>'
    else:
        transcript = "<p>No earlier messages in this conversation.</p>"

    if ticket["candidates"]:
        rows = "".join(
            f"<tr><td>{escape(c['faq_id'])}</td>"
            f"<td>{escape(by_id[c['faq_id']].question if c['faq_id'] in by_id else '(removed)')}"
            f"</td><td class=\"num\">{float(c['score']):.2f}</td></tr>"
            for c in ticket["candidates"])
        candidates = ('<table><caption>Entries the retriever considered, with similarity '
                      'scores (0 to 1)</caption><thead><tr><th scope="col">Entry</th>'
                      '<th scope="col">Question</th><th scope="col">Score</th></tr></thead>'
                      f"<tbody>{rows}</tbody></table>")
    else:
        candidates = ("<p>The retriever had no candidates (the message looked out of scope, "
                      "or the ticket is not a fallback).</p>")

    staff_reply = ""
    if ticket.get("staff_reply"):
        staff_reply = (f'<h3>Reply already sent</h3><blockquote class="reply">'
                       f"{escape(ticket['staff_reply'])}</blockquote>")
    reply_form = (
        f'<form method="post" action="/staff/tickets/{tid}/reply" class="stack">{hidden}'
        '<label for="reply-text">Message to the patient</label>'
        '<p class="hint" id="reply-hint">Shown in the patient\'s chat window if it is still '
        "open. Don't include anything you would not put in an unencrypted message.</p>"
        '<textarea id="reply-text" name="text" rows="4" required maxlength="4000" '
        'aria-describedby="reply-hint"></textarea>'
        '<button type="submit">Send reply</button></form>')
    status_forms = (
        '<div class="row">'
        f'<form method="post" action="/staff/tickets/{tid}/resolve">{hidden}'
        '<button type="submit">Mark resolved</button></form>'
        f'<form method="post" action="/staff/tickets/{tid}/dismiss">{hidden}'
        '<button type="submit" class="secondary">Dismiss (no action needed)</button></form>'
        "</div>")

    teach = _teach_section(request, ticket, hidden, tid, by_id)
    urgent_note = ('<p class="alert" role="alert"><span class="badge urgent">Urgent</span> '
                   "The bot detected a possible emergency and told the patient to call the "
                   "emergency number. Follow your unit's procedure.</p>"
                   if ticket["urgent"] else "")
    content = (
        '<p><a href="/staff">← Back to the queue</a></p>'
        f"<h1>Ticket {escape(ticket['id'])}</h1>{_notice(request)}{_error_box(error)}"
        f"{urgent_note}"
        f'<dl class="facts">{facts_html}</dl>'
        f"<h2>Summary</h2><p>{escape(ticket['summary'] or '')}</p>"
        "<h2>Patient's message</h2>"
        '<p class="hint">Names, phone numbers, dates of birth and similar details were '
        "removed before the message was stored.</p>"
        f'<blockquote class="message">{_patient_text(ticket["message"])}</blockquote>'
        f"<h2>Conversation before the ticket</h2>{transcript}"
        f"<h2>What the bot considered</h2>{candidates}"
        f"<h2>Reply</h2>{staff_reply}{reply_form}"
        f"<h2>Close the ticket</h2>{status_forms}"
        f"{teach}"
    )
    return _html(_layout(f"Ticket {ticket['id']}", content, username=username, csrf=csrf),
                 status=status)


def _teach_section(request: web.Request, ticket: dict[str, Any], hidden: str, tid: str,
                   by_id: dict[str, Any]) -> str:
    head = ("<h2>Teach the bot</h2><p>So the next patient who asks this gets an answer "
            "straight away. Teaching resolves the ticket.</p>")
    if not Path(request.app[SETTINGS].corpus).is_dir():
        return head + ("<p>Teaching is off: the server runs from a .jsonl corpus file, not a "
                       "directory of YAML files.</p>")
    choices = _teach_choices(request, ticket)
    message = ticket["message"]
    if choices:
        radios = "".join(
            f'<div class="choice"><input type="radio" name="entry_id" id="c-{i}" '
            f'value="{escape(faq_id)}"{" required" if i == 0 else ""}>'
            f'<label for="c-{i}">{escape(by_id[faq_id].question)} '
            f'<span class="meta">{escape(faq_id)} · score {score:.2f} ({escape(where)})'
            "</span></label></div>"
            for i, (faq_id, score, where) in enumerate(choices))
        alternate = (
            f'<form method="post" action="/staff/tickets/{tid}/teach" class="stack">{hidden}'
            '<input type="hidden" name="mode" value="alternate">'
            "<h3>It means the same as an existing question</h3>"
            '<label for="t-phrasing">The patient\'s wording (you may tidy it)</label>'
            f'<input id="t-phrasing" name="phrasing" value="{escape(message)}" required '
            'maxlength="300">'
            f'<fieldset><legend>Add it as another way of asking</legend>{radios}</fieldset>'
            '<button type="submit">Add this wording</button></form>')
    else:
        alternate = "<p>No existing entry looks close; draft a new one below.</p>"
    procedure = ticket["procedure"] if ticket["procedure"] in PROCEDURES else "general"
    draft = (
        f'<form method="post" action="/staff/tickets/{tid}/teach" class="stack">{hidden}'
        '<input type="hidden" name="mode" value="new">'
        "<h3>Or draft a new entry</h3>"
        '<p class="hint">A new entry goes live at once with owner "Staff draft" and a review '
        "date a year away. Plain words, at most 150 words; the patient's message is kept as "
        "another way of asking.</p>"
        '<label for="n-question">Question</label>'
        f'<input id="n-question" name="question" value="{escape(message)}" required '
        'maxlength="300">'
        '<label for="n-answer">Answer</label>'
        '<textarea id="n-answer" name="answer" rows="6" required maxlength="1500"></textarea>'
        '<div class="row"><div><label for="n-procedure">Procedure</label>'
        f'<select id="n-procedure" name="procedure">{_options(PROCEDURES, procedure)}</select>'
        '</div><div><label for="n-topic">Topic</label>'
        f'<select id="n-topic" name="topic">{_options(TOPICS, "logistics")}</select></div></div>'
        '<button type="submit">Add the new entry</button></form>')
    return head + alternate + draft


@staff_page
async def ticket_page(request: web.Request, username: str, token: str) -> web.StreamResponse:
    store = request.app[STORE]
    ticket = store.get_ticket(request.match_info["ticket_id"])
    if ticket is None:
        return _not_found(username, request.app[SIGNER].csrf_token(token))
    store.audit(username, "view", ticket["id"])
    return _render_ticket(request, ticket, username, token)


def _ticket_action(action: str) -> Handler:
    @staff_page
    async def handler(request: web.Request, username: str, token: str) -> web.StreamResponse:
        store = request.app[STORE]
        ticket = store.get_ticket(request.match_info["ticket_id"])
        if ticket is None:
            return _not_found(username, request.app[SIGNER].csrf_token(token))
        form = await request.post()
        if action == "reply":
            text = _form_str(form, "text").strip()
            if not text or len(text) > MAX_REPLY_CHARS:
                return _render_ticket(request, ticket, username, token, status=400, error=(
                    f"Write a reply of 1 to {MAX_REPLY_CHARS} characters."))
            store.reply_to_ticket(ticket["id"], text, username)
            store.audit(username, "reply", ticket["id"], _short(text, 200))
            notice = "replied"
        elif action in ("resolve", "dismiss"):
            status = "resolved" if action == "resolve" else "dismissed"
            store.set_status(ticket["id"], status, username)
            store.audit(username, action, ticket["id"])
            notice = status
        else:
            try:
                notice = await _teach(request, ticket, form, username)
            except ValueError as exc:
                return _render_ticket(request, ticket, username, token, error=str(exc),
                                      status=400)
        return _redirect(f"/staff/tickets/{quote(ticket['id'])}?notice={notice}")

    handler.__name__ = f"ticket_{action}"
    return handler


async def _teach(request: web.Request, ticket: dict[str, Any], form: Any, username: str) -> str:
    from .. import teach

    settings = request.app[SETTINGS]
    bot = request.app[BOT]
    mode = _form_str(form, "mode")
    loop = asyncio.get_running_loop()
    async with request.app[TEACH_LOCK]:
        if mode == "alternate":
            entry_id = _form_str(form, "entry_id")
            phrasing = " ".join(_form_str(form, "phrasing").split()) or ticket["message"]
            if not entry_id:
                raise ValueError("Choose the existing question it means.")
            if len(phrasing) > 300:
                raise ValueError("Keep the wording under 300 characters.")
            file = await loop.run_in_executor(
                None, teach.add_alternate, settings.corpus, entry_id, phrasing)
            detail = f"alternate of {entry_id} in {file.name}: {phrasing}"
            notice = "taught"
        elif mode == "new":
            question = " ".join(_form_str(form, "question").split())
            answer = _form_str(form, "answer").strip()
            procedure = _form_str(form, "procedure")
            topic = _form_str(form, "topic")
            if not question or not answer:
                raise ValueError("A new entry needs both a question and an answer.")
            if procedure not in PROCEDURES or topic not in TOPICS:
                raise ValueError("Choose a procedure and a topic from the lists.")
            entry_id = teach.new_entry_id(set(bot.corpus.by_id), procedure, question)
            entry = {"id": entry_id, **teach.staff_draft(question, answer, topic,
                                                         [ticket["message"]])}
            file = await loop.run_in_executor(
                None, partial(teach.add_entry, settings.corpus, procedure, entry))
            detail = f"new entry {entry_id} in {file.name}: {question}"
            notice = "drafted"
        else:
            raise ValueError("Unknown teaching choice.")
        corpus = await loop.run_in_executor(None, load_corpus, settings.corpus)
        bot.load_corpus(corpus)
        # Other replicas poll this row and reload the same corpus directory.
        await loop.run_in_executor(None, request.app[STORE].set_corpus_version,
                                   corpus.version)
    store = request.app[STORE]
    store.audit(username, "teach", ticket["id"], detail)
    store.set_status(ticket["id"], "resolved", username)
    return notice


ACTIONS: dict[str, Handler] = {a: _ticket_action(a) for a in ("reply", "resolve", "dismiss",
                                                               "teach")}


# ------------------------------------------------------------------ insights and audit


@staff_page
async def insights_page(request: web.Request, username: str, token: str) -> web.StreamResponse:
    from ..insights import insights

    data = insights(request.app[STORE])
    csrf = request.app[SIGNER].csrf_token(token)
    if data["gaps"]:
        rows = "".join(
            f'<tr><td class="num">{g["count"]}</td><td>{escape(g["example"])}</td><td>'
            + ", ".join(f'<a href="/staff/tickets/{quote(t)}">{escape(t)}</a>'
                        for t in g["ticket_ids"][:8])
            + ("…" if len(g["ticket_ids"]) > 8 else "") + "</td></tr>"
            for g in data["gaps"])
        gaps = ('<table><caption>Most-asked questions the bot could not answer (open fallback '
                'tickets, similar wordings grouped)</caption><thead><tr><th scope="col">Times '
                'asked</th><th scope="col">Example</th><th scope="col">Tickets</th></tr>'
                f"</thead><tbody>{rows}</tbody></table>")
    else:
        gaps = "<p>No open questions the bot could not answer. Well done.</p>"
    if data["daily"]:
        rows = "".join(
            f'<tr><th scope="row">{escape(d["day"])}</th><td class="num">{d["messages"]}</td>'
            f'<td class="num">{d["answer_rate"]:.0%}</td>'
            f'<td class="num">{d["fallback_rate"]:.0%}</td></tr>' for d in data["daily"])
        daily = ('<table><caption>Last 14 days</caption><thead><tr><th scope="col">Day (UTC)'
                 '</th><th scope="col">Messages</th><th scope="col">Answered</th>'
                 f'<th scope="col">Not answered</th></tr></thead><tbody>{rows}</tbody></table>')
    else:
        daily = "<p>No messages in the last 14 days.</p>"
    fb = data["feedback"]
    feedback = (f'<p>Patients found answers helpful <strong>{fb.get("up", 0)}</strong> '
                f'time(s) and unhelpful <strong>{fb.get("down", 0)}</strong> time(s). '
                'Unhelpful answers open a <a href="/staff?status=open&amp;kind=feedback">'
                "feedback ticket</a>.</p>")
    content = ("<h1>Insights</h1><h2>Gaps worth teaching</h2>" + gaps +
               "<h2>Daily rates</h2>" + daily + "<h2>Feedback</h2>" + feedback)
    return _html(_layout("Insights", content, username=username, csrf=csrf,
                         current="/staff/insights"))


@staff_page
async def audit_page(request: web.Request, username: str, token: str) -> web.StreamResponse:
    entries = request.app[STORE].audit_entries(limit=500)
    csrf = request.app[SIGNER].csrf_token(token)
    rows = "".join(
        f"<tr><td>{_when(e['at'])}</td><td>{escape(e['username'])}</td>"
        f"<td>{escape(e['action'])}</td><td>"
        + (f'<a href="/staff/tickets/{quote(e["ticket_id"])}">{escape(e["ticket_id"])}</a>'
           if e.get("ticket_id") else "")
        + f"</td><td>{escape(e.get('detail') or '')}</td></tr>" for e in entries)
    table = ('<table><caption>Latest 500 staff actions, newest first</caption><thead><tr>'
             '<th scope="col">When (UTC)</th><th scope="col">Who</th><th scope="col">Action</th>'
             '<th scope="col">Ticket</th><th scope="col">Detail</th></tr></thead>'
             f"<tbody>{rows}</tbody></table>") if entries else "<p>No actions yet.</p>"
    return _html(_layout("Audit log", "<h1>Audit log</h1>" + table, username=username,
                         csrf=csrf, current="/staff/audit"))


# ------------------------------------------------------------------ JSON API


async def api_tickets(request: web.Request) -> web.Response:
    user = _api_user(request)
    if user is None:
        return json_error(401, "sign in or send Authorization: Bearer <staff_token>",
                          headers={"WWW-Authenticate": "Bearer"})
    status = request.query.get("status") or None
    kind = request.query.get("kind") or None
    if status and status not in STATUSES:
        return json_error(400, f"'status' must be one of {', '.join(STATUSES)}")
    if kind and kind not in KINDS:
        return json_error(400, f"'kind' must be one of {', '.join(KINDS)}")
    rows = request.app[STORE].list_tickets(status=status, kind=kind,
                                           search=request.query.get("q") or None)
    return web.json_response({"tickets": rows, "count": len(rows)},
                             headers={"Cache-Control": "no-store"})


async def api_ticket(request: web.Request) -> web.Response:
    user = _api_user(request)
    if user is None:
        return json_error(401, "sign in or send Authorization: Bearer <staff_token>",
                          headers={"WWW-Authenticate": "Bearer"})
    store = request.app[STORE]
    ticket = store.get_ticket(request.match_info["ticket_id"])
    if ticket is None:
        return json_error(404, "no such ticket")
    store.audit(user, "view", ticket["id"], "api")
    return web.json_response(ticket, headers={"Cache-Control": "no-store"})


__all__ = ["SIGNER", "setup_staff"]
