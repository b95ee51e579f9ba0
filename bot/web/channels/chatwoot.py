"""Chatwoot agent bot: `POST /channels/chatwoot`.

Chatwoot posts agent-bot webhook events here. Incoming patient messages in a
conversation still "pending" (the bot's turn) go through the shared engine
path; the reply goes back through Chatwoot's REST API in a background task,
so Chatwoot gets its 200 at once. On a handoff, fallback or emergency the bot
also leaves a private note for the agents and opens the conversation, which
hands it to the humans: from then on ("open") the bot stays out of it.

A handoff is never lost: the engine has already written the ticket to the
store before anything is sent, and if Chatwoot cannot be reached after the
retries, the failure is recorded on that ticket (`notify_error`), where the
staff console shows it.

Chatwoot opens a pending conversation itself (a hand-over with only its own
error note) when this webhook answers non-2xx or not within 5 s, so:
duplicates and replays get a 200, the engine is waited for at most the reply
budget (then a holding message, and the reply posted when ready), and what
the bot cannot read (a click on an option button arrives as `message_updated`
on the bot's own `input_select`; a photo or voice note has no text) is
answered or handed over, never ignored. Callers prove themselves with
Chatwoot's signature (`chatwoot_webhook_secret`) or, for Chatwoot versions
that do not sign, the shared `?token=`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from ...domain import HANDED_OVER
from ..keys import NONCES, SETTINGS, STORE
from ..replies import answer, reply_budget
from ..requests import json_error, parse_json_object
from ..retry import Undeliverable, doubling, post_json
from ..signatures import FRESH_SECONDS
from .chatwoot_plans import (
    Call,
    attachment_plan,
    failed_plan,
    message,
    reply_plan,
    too_long_plan,
)

log = logging.getLogger("faqbot.chatwoot")

# Chatwoot payloads carry the whole conversation object; allow more than the
# patient-facing API's body limit, but not without bound.
MAX_EVENT_BYTES = 256 * 1024


@dataclass
class ChatwootState:
    """Per-app state: HTTP client, background deliveries, recent delivery ids."""

    http: aiohttp.ClientSession | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    seen: OrderedDict[str, None] = field(default_factory=OrderedDict)
    remember: int = 1000
    tries: int = 4
    backoff: float = 0.2  # seconds; doubles after each failed try
    timeout: float = 10.0  # seconds per call
    late_limit: float = 60.0  # seconds a late reply is waited for before handing over

    def is_duplicate(self, key: str) -> bool:
        return key in self.seen

    def mark_seen(self, key: str) -> None:
        self.seen[key] = None
        self.seen.move_to_end(key)
        while len(self.seen) > self.remember:
            self.seen.popitem(last=False)


CHATWOOT = web.AppKey("chatwoot", ChatwootState)


def setup_chatwoot(app: web.Application) -> None:
    app[CHATWOOT] = ChatwootState()
    app.router.add_post("/channels/chatwoot", post_chatwoot)
    app.cleanup_ctx.append(_client_ctx)


async def _client_ctx(app: web.Application) -> AsyncIterator[None]:
    state = app[CHATWOOT]
    state.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=state.timeout))
    try:
        yield
    finally:
        # Let replies and handoffs in flight finish before the client closes.
        try:
            await asyncio.wait_for(wait_for_deliveries(app), timeout=30)
        except TimeoutError:
            log.error("chatwoot: deliveries still pending at shutdown were cancelled")
            for task in list(state.tasks):
                task.cancel()
            await asyncio.gather(*state.tasks, return_exceptions=True)
        await state.http.close()
        state.http = None


async def wait_for_deliveries(app: web.Application) -> None:
    """Wait until every background delivery to Chatwoot has finished (tests, shutdown)."""
    state = app[CHATWOOT]
    while state.tasks:
        await asyncio.gather(*list(state.tasks), return_exceptions=True)


# ------------------------------------------------------------------ webhook


def _ignored(reason: str) -> web.Response:
    return web.json_response({"ignored": reason})


async def _read_body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_EVENT_BYTES:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_EVENT_BYTES,
                                            actual_size=request.content_length)
    raw = await request.content.read(MAX_EVENT_BYTES + 1)
    if len(raw) > MAX_EVENT_BYTES:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_EVENT_BYTES, actual_size=len(raw))
    return raw


def _id(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise web.HTTPBadRequest(reason=f"'{name}' must be a number")
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str) and value.isdigit() and len(value) <= 18:
        return int(value)
    raise web.HTTPBadRequest(reason=f"'{name}' must be a number")


async def _check_caller(request: web.Request, raw: bytes) -> web.Response | None:
    """Chatwoot's signature when it signs and a secret is set, else the shared token.

    Chatwoot hands a pending conversation to the humans when its call gets a
    non-2xx answer, so a refusal here is seen by patients: it is kept for
    callers that are not Chatwoot (or are misconfigured). A signed delivery seen
    before is answered 200 and not acted on again.
    """
    settings = request.app[SETTINGS]
    token, secret = settings.chatwoot_webhook_token, settings.chatwoot_webhook_secret
    if not (token or secret) or not settings.chatwoot_url or not settings.chatwoot_bot_token:
        return json_error(503, "chatwoot not configured")
    signature = request.headers.get("X-Chatwoot-Signature")
    if secret and signature is not None:
        return await _check_signature(request, raw, secret, signature)
    if not token:
        return json_error(401, "missing X-Chatwoot-Signature")
    given = request.query.get("token") or request.headers.get("X-Faqbot-Token") or ""
    if not hmac.compare_digest(given.encode(), token.encode()):
        return json_error(401, "bad or missing chatwoot token")
    return None


async def _check_signature(request: web.Request, raw: bytes, secret: str,
                     signature: str) -> web.Response | None:
    """`X-Chatwoot-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`,
    `X-Chatwoot-Timestamp` within five minutes, `X-Chatwoot-Delivery` used once."""
    stamp = request.headers.get("X-Chatwoot-Timestamp", "")
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12) or abs(
            time.time() - int(stamp)) > FRESH_SECONDS:
        return json_error(401, "missing or stale X-Chatwoot-Timestamp")
    expected = hmac.new(secret.encode(), stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
    given = signature.strip().removeprefix("sha256=")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return json_error(401, "bad X-Chatwoot-Signature")
    # Only a genuine signature may use up a delivery id; without one, the signature is the id.
    delivery = request.headers.get("X-Chatwoot-Delivery") or expected
    # The nonce store may be Redis (shared by replicas): off the loop.
    if not await asyncio.to_thread(request.app[NONCES].first_use,
                                   f"chatwoot:{delivery[:200]}", int(stamp)):
        return _ignored("duplicate delivery")
    return None


async def post_chatwoot(request: web.Request) -> web.Response:
    raw = await _read_body(request)
    refused = await _check_caller(request, raw)
    if refused is not None:
        return refused
    data = parse_json_object(raw)
    state = request.app[CHATWOOT]

    event = data.get("event")
    if event == "message_updated":
        return await _choice(request, data)
    if event != "message_created":
        return _ignored(f"event {event!s:.40}")
    # Webhooks say "incoming"; some Chatwoot versions send the enum's number (0).
    message_type = data.get("message_type")
    if message_type not in ("incoming", 0):
        return _ignored("not an incoming message")
    if data.get("private"):
        return _ignored("private note")
    conversation, account_id, conversation_id = _pending_conversation(data)
    if conversation is None:
        return _ignored(f"conversation is {conversation_id!s:.20}")

    delivery = request.headers.get("X-Chatwoot-Delivery")
    message_id = data.get("id")
    keys = [f"delivery:{delivery}"] if delivery else []
    if message_id is not None:
        keys.append(f"message:{account_id}:{message_id}")
    if any(state.is_duplicate(k) for k in keys):
        return _ignored("duplicate delivery")

    content = data.get("content")
    if not isinstance(content, str) or not content.strip():
        attachments = data.get("attachments")
        if not isinstance(attachments, list) or not attachments:
            return _ignored("no text content")
        return _attachments_only(request, attachments, account_id, conversation_id, keys)
    return await _respond(request, content, conversation, account_id, conversation_id, keys)


def _attachments_only(request: web.Request, attachments: list[Any], account_id: int,
                      conversation_id: int, keys: list[str]) -> web.Response:
    """A photo, voice note or file with no text (common on WhatsApp): the bot
    cannot read it, so it says so, or hands over, as `chatwoot_attachments` says."""
    settings = request.app[SETTINGS]
    kinds = sorted({str(a.get("file_type"))[:20] for a in attachments
                    if isinstance(a, dict) and a.get("file_type")}) or ["file"]
    plan = attachment_plan(settings.chatwoot_attachments, settings.emergency_number, kinds,
                            len(attachments))
    for key in keys:
        request.app[CHATWOOT].mark_seen(key)
    _dispatch(request.app, _conversation_url(settings.chatwoot_url, account_id, conversation_id),
              plan, None)
    return web.json_response({"ok": True, "session_id": f"chatwoot-{account_id}-{conversation_id}",
                              "type": "attachment", "faq_id": None, "ticket_id": None,
                              "handoff": settings.chatwoot_attachments == "handoff"})


def _pending_conversation(data: dict[str, Any]) -> tuple[dict[str, Any] | None, int, Any]:
    """The conversation, account id and conversation id of an event for the bot;
    (None, 0, status) when the conversation is not the bot's (not pending)."""
    conversation = data.get("conversation")
    account = data.get("account")
    if not isinstance(conversation, dict) or not isinstance(account, dict):
        raise web.HTTPBadRequest(reason="'conversation' and 'account' objects are required")
    status = conversation.get("status")
    if status != "pending":
        # Once a conversation is open, the humans own it; the bot keeps out.
        return None, 0, status
    return (conversation, _id(account.get("id"), "account.id"),
            _id(conversation.get("id"), "conversation.id"))


def _submitted(data: dict[str, Any]) -> str | None:
    """The option a patient chose on an input_select: its value, else its title."""
    attributes = data.get("content_attributes")
    values = attributes.get("submitted_values") if isinstance(attributes, dict) else None
    if not isinstance(values, list) or not values or not isinstance(values[0], dict):
        return None
    for name in ("value", "title"):
        chosen = values[0].get(name)
        if isinstance(chosen, str) and chosen.strip():
            return chosen
    return None


async def _choice(request: web.Request, data: dict[str, Any]) -> web.Response:
    """A click on one of the bot's option buttons in the website widget.

    The widget sends no new message: it writes the choice into the bot's own
    `input_select` message (`content_attributes.submitted_values`), and
    Chatwoot sends `message_updated`. The choice is the patient's next message.
    Chatwoot sends `message_updated` again for every later change of that
    message (delivered, read...), so each choice is answered once, on its own
    key: conversation, message and chosen value.
    """
    if data.get("content_type") != "input_select":
        return _ignored("message_updated is not a choice")
    if data.get("message_type") not in ("outgoing", 1) or data.get("private"):
        return _ignored("message_updated is not a choice")
    chosen = _submitted(data)
    if chosen is None:
        return _ignored("no submitted value")
    conversation, account_id, conversation_id = _pending_conversation(data)
    if conversation is None:
        return _ignored(f"conversation is {conversation_id!s:.20}")
    message_id = data.get("id")
    keys = [f"choice:{account_id}:{conversation_id}:{message_id!s:.20}:{chosen[:300]}"]
    delivery = request.headers.get("X-Chatwoot-Delivery")
    if delivery:
        keys.append(f"delivery:{delivery}")
    if any(request.app[CHATWOOT].is_duplicate(k) for k in keys):
        return _ignored("duplicate delivery")
    return await _respond(request, chosen, conversation, account_id, conversation_id, keys)


async def _respond(request: web.Request, content: str, conversation: dict[str, Any],
                   account_id: int, conversation_id: int, keys: list[str]) -> web.Response:
    """Answer `content` in the conversation: the engine, then the calls to Chatwoot."""
    state = request.app[CHATWOOT]
    settings = request.app[SETTINGS]
    channel = conversation.get("channel")
    session_id = f"chatwoot-{account_id}-{conversation_id}"
    base = _conversation_url(settings.chatwoot_url, account_id, conversation_id)
    if len(content) > settings.max_message_chars:
        # Too long for the engine; hand the conversation to the humans instead of dropping it.
        outcome = Outcome(too_long_plan(settings.max_message_chars), "too_long")
    else:
        work = asyncio.ensure_future(_outcome(request, content, session_id, channel))
        try:
            outcome = await asyncio.wait_for(asyncio.shield(work), reply_budget(request.app))
        except (TimeoutError, asyncio.CancelledError) as exc:
            # Chatwoot waits 5 s, then hands over and never shows a late reply:
            # answer now, say "one moment", and post the reply when it is ready.
            for key in keys:
                state.mark_seen(key)
            _spawn(request.app, _deliver_late(request.app, base, work))
            if isinstance(exc, asyncio.CancelledError):
                raise
            return web.json_response({"ok": True, "session_id": session_id, "type": "pending",
                                      "faq_id": None, "ticket_id": None})
        except Exception:
            log.exception("chatwoot: the engine failed on %s", session_id)
            outcome = Outcome(failed_plan(), "error")
    for key in keys:
        state.mark_seen(key)
    _dispatch(request.app, base, outcome.plan, outcome.ticket_id)
    reply_type, ticket_id, faq_id = outcome.type, outcome.ticket_id, outcome.faq_id
    return web.json_response({"ok": True, "session_id": session_id, "type": reply_type,
                              "faq_id": faq_id, "ticket_id": ticket_id})


# ----------------------------------------------------------------- outbound


def _conversation_url(chatwoot_url: str, account_id: int, conversation_id: int) -> str:
    return (f"{chatwoot_url.rstrip('/')}/api/v1/accounts/{account_id}"
            f"/conversations/{conversation_id}")


def _dispatch(app: web.Application, base: str, plan: list[Call], ticket_id: str | None) -> None:
    """Deliver `plan` in the background; Chatwoot gets its 200 without waiting."""
    _spawn(app, _deliver(app, base, plan, ticket_id))


def _spawn(app: web.Application, job: Coroutine[Any, Any, None]) -> None:
    state = app[CHATWOOT]
    task = asyncio.create_task(job)
    state.tasks.add(task)
    task.add_done_callback(state.tasks.discard)


@dataclass(frozen=True)
class Outcome:
    """What the bot does about one patient message."""

    plan: list[Call]
    type: str
    ticket_id: str | None = None
    faq_id: str | None = None


async def _outcome(request: web.Request, content: str, session_id: str,
                   channel: Any) -> Outcome:
    reply = await answer(request, content, session_id)
    procedure = reply.procedure
    if reply.ticket_id and reply.type in HANDED_OVER:
        ticket = await asyncio.to_thread(request.app[STORE].get_ticket, reply.ticket_id)
        procedure = (ticket or {}).get("procedure") or procedure
    return Outcome(reply_plan(reply, channel, procedure), reply.type, reply.ticket_id, reply.faq_id)


HOLDING = "One moment, I'm looking that up for you."


async def _deliver_late(app: web.Application, base: str, work: asyncio.Future[Outcome]) -> None:
    """The engine missed the reply budget: a holding message now, the reply when
    it is ready, or, past `late_limit`, a hand-over to the team."""
    state = app[CHATWOOT]
    try:
        await _send(app, base + "/messages", message(HOLDING))
    except Undeliverable as exc:
        log.error("chatwoot: holding message failed for %s: %s", base, exc)
    try:
        outcome = await asyncio.wait_for(asyncio.shield(work), state.late_limit)
    except TimeoutError:
        log.error("chatwoot: no reply after %.0f s for %s; handed over", state.late_limit, base)
        # Its result, whenever it comes, is not wanted; retrieve it so nothing is reported.
        work.add_done_callback(lambda done: done.cancelled() or done.exception())
        outcome = Outcome(failed_plan(), "error")
    except Exception:
        log.exception("chatwoot: the engine failed for %s", base)
        outcome = Outcome(failed_plan(), "error")
    await _deliver(app, base, outcome.plan, outcome.ticket_id)


async def _deliver(app: web.Application, base: str, plan: list[Call],
                   ticket_id: str | None) -> None:
    """Send every call in order; a failed one does not stop the rest (the toggle matters)."""
    failures: list[str] = []
    for call in plan:
        try:
            await _send(app, base + call.path, call.body)
        except Undeliverable as exc:
            failures.append(f"{call.what}: {exc}")
            log.error("chatwoot: %s failed for %s: %s", call.what, base, exc)
    if failures and ticket_id:
        try:
            await asyncio.to_thread(app[STORE].set_notify_error, ticket_id,
                                    "chatwoot: " + "; ".join(failures))
        except Exception:  # the store is down too: the log is all that is left
            log.exception("chatwoot: could not record delivery failure on %s", ticket_id)


async def _send(app: web.Application, url: str, body: dict[str, Any]) -> None:
    state = app[CHATWOOT]
    settings = app[SETTINGS]
    if state.http is None:
        raise Undeliverable("HTTP client not running", 0)
    await post_json(state.http, url, body, delays=doubling(state.backoff, state.tries),
                    headers={"api_access_token": settings.chatwoot_bot_token},
                    retry_refusals=False, what=f"chatwoot call to {url}")
