"""Dialogflow ES fulfillment: `POST /channels/dialogflow`.

Dialogflow calls this webhook for intents with fulfillment enabled (usually the
Default Fallback Intent) with a WebhookRequest; we answer with a
WebhookResponse. The Dialogflow `session` string is the bot's session id, so
context carries from turn to turn; the reply also sets an output context
(`<session>/contexts/faqbot`) with the bot's session and what it answered, for
the agent's own intents. Handoff and emergency replies are flagged in
`payload.faqbot` for the integration to act on; the ticket is already in the
store either way.

Dialogflow waits about 5 s for fulfillment and cannot be sent a reply later.
When the engine misses the reply budget, the patient gets a holding text
asking them to send the question again; the reply, when it is ready, is kept
for that session and given on the next turn (at once if the question is the
same, without asking the engine twice). An emergency or hand-over kept that
way is never dropped: it is given first, whatever the next message is.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ...domain import HANDED_OVER, Reply
from ..keys import BOT, SETTINGS
from ..replies import answer_within, bubbles, reply_budget
from ..requests import check_rate, read_json, text_field

CONTEXT = "faqbot"
CONTEXT_TURNS = 5  # lifespanCount: turns the context lasts in Dialogflow
HOLDING = ("I'm still looking that up. Please send your question again in a moment "
           "and I'll have the answer.")


@dataclass
class Late:
    """A reply that missed the budget, kept for its session's next turn."""

    text: str
    task: asyncio.Task[Reply]
    at: float = field(default_factory=time.monotonic)


@dataclass
class DialogflowState:
    late: OrderedDict[str, Late] = field(default_factory=OrderedDict)
    keep: float = 600.0  # seconds a late reply waits for its session's next turn
    remember: int = 1000

    def park(self, session: str, late: Late) -> None:
        self.late[session] = late
        self.late.move_to_end(session)
        while len(self.late) > self.remember:
            self.late.popitem(last=False)

    def take(self, session: str) -> Late | None:
        late = self.late.pop(session, None)
        if late is None or time.monotonic() - late.at > self.keep:
            return None
        return late


DIALOGFLOW = web.AppKey("dialogflow", DialogflowState)


def setup_dialogflow(app: web.Application) -> None:
    app[DIALOGFLOW] = DialogflowState()
    app.router.add_post("/channels/dialogflow", post_dialogflow)


def _presented_tokens(request: web.Request) -> list[str]:
    tokens = []
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        tokens.append(value.strip())
    elif scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        _, _, password = decoded.partition(":")
        tokens.append(password)
    if "X-Faqbot-Token" in request.headers:
        tokens.append(request.headers["X-Faqbot-Token"])
    return tokens


def _check_auth(request: web.Request) -> bool:
    """True when the caller signed in; an open endpoint is rate-limited later."""
    expected = request.app[SETTINGS].dialogflow_token
    if not expected:
        return False
    if not any(hmac.compare_digest(t.encode(), expected.encode())
               for t in _presented_tokens(request)):
        raise web.HTTPUnauthorized(reason="bad or missing dialogflow token",
                                   headers={"WWW-Authenticate": 'Basic realm="faqbot"'})
    return True


def _session(data: dict[str, Any]) -> str:
    session = data.get("session")
    if not isinstance(session, str) or not session.strip() or not session.isprintable():
        raise web.HTTPBadRequest(reason="'session' is required and must be a string")
    if len(session) <= 128:
        return session
    # The store keeps 128 characters; a long session path is shortened, stably.
    return "dialogflow-" + hashlib.sha256(session.encode()).hexdigest()[:40]


async def post_dialogflow(request: web.Request) -> web.Response:
    signed_in = _check_auth(request)
    data = await read_json(request)
    query = data.get("queryResult")
    if not isinstance(query, dict):
        raise web.HTTPBadRequest(reason="'queryResult' object is required")
    text = text_field(query, "queryText", request.app[SETTINGS], required=True)
    if not signed_in and not request.app[BOT].check_red_flags(text):
        # Open to anyone, like the public JSON API, so rate-limited like it;
        # a red flag is answered whatever the rate.
        await check_rate(request)
    session = _session(data)
    state = request.app[DIALOGFLOW]
    earlier: Reply | None = None
    late = state.take(session)
    if late is not None:
        try:
            earlier = await asyncio.wait_for(asyncio.shield(late.task), reply_budget(request.app))
        except TimeoutError:
            state.park(session, late)  # still not ready: keep it, hold again
            return _holding(data, session)
        except Exception:
            earlier = None
        if earlier is not None and late.text.strip().lower() == text.strip().lower():
            return _response(data, session, [earlier])  # the question asked again: its answer
        if earlier is not None and earlier.type not in HANDED_OVER:
            earlier = None  # an ordinary answer to an older question: overtaken
    task, reply = await answer_within(request, text, session)
    if reply is None:
        # Retrieve a failure even if no next turn ever asks for it (no "never retrieved" noise).
        task.add_done_callback(lambda done: done.cancelled() or done.exception())
        state.park(session, Late(text, task))
        return _holding(data, session, earlier)
    return _response(data, session, [r for r in (earlier, reply) if r is not None])


def _context(data: dict[str, Any], parameters: dict[str, Any]) -> list[dict[str, Any]]:
    """`outputContexts`: the bot's session and its last reply, for the agent's own intents."""
    raw = data.get("session")
    if not isinstance(raw, str) or "/sessions/" not in raw:
        return []
    return [{"name": f"{raw}/contexts/{CONTEXT}", "lifespanCount": CONTEXT_TURNS,
             "parameters": parameters}]


def _holding(data: dict[str, Any], session: str, earlier: Reply | None = None) -> web.Response:
    body = _body(data, session, [earlier] if earlier is not None else [])
    body["fulfillmentText"] = "\n\n".join(t for t in (body["fulfillmentText"], HOLDING) if t)
    body["fulfillmentMessages"].append({"text": {"text": [HOLDING]}})
    if earlier is None:
        body["payload"]["faqbot"].update(type="pending")
        body["outputContexts"] = _context(data, {"faqbot_session": session, "type": "pending"})
    return web.json_response(body)


def _response(data: dict[str, Any], session: str, replies: list[Reply]) -> web.Response:
    return web.json_response(_body(data, session, replies))


def _body(data: dict[str, Any], session: str, replies: list[Reply]) -> dict[str, Any]:
    """A WebhookResponse (googleapis google/cloud/dialogflow/v2/webhook.proto) for
    `replies`, in order; `payload.faqbot` and the context describe the last one,
    except that a hand-over or emergency among them is never hidden."""
    messages: list[dict[str, Any]] = []
    texts: list[str] = []
    for reply in replies:
        for bubble in bubbles(reply):
            messages.append({"text": {"text": [bubble.text]}})
            texts.append(bubble.text)
            if bubble.options:
                title = ("Did you mean:" if reply.type in ("clarify", "fallback")
                         else "You might also ask:")
                messages.append({"quickReplies": {"title": title,
                                                  "quickReplies": list(bubble.options)}})
    if not replies:
        return {"fulfillmentText": "", "fulfillmentMessages": messages, "source": "faqbot",
                "payload": {"faqbot": {"type": None, "faq_id": None, "ticket_id": None,
                                       "handoff": False, "emergency": False,
                                       "suggestions": []}},
                "outputContexts": _context(data, {"faqbot_session": session})}
    reply = replies[-1]
    handed = [r for r in replies if r.type in HANDED_OVER]
    ticket = reply.ticket_id or next((r.ticket_id for r in handed if r.ticket_id), None)
    return {
        "fulfillmentText": "\n\n".join(texts),
        "fulfillmentMessages": messages,
        "source": "faqbot",
        "payload": {"faqbot": {
            "type": reply.type,
            "faq_id": reply.faq_id,
            "ticket_id": ticket,
            "handoff": bool(handed),
            "emergency": any(r.type == "emergency" for r in replies),
            "suggestions": [{"faq_id": s.faq_id, "question": s.question}
                            for s in reply.suggestions],
        }},
        "outputContexts": _context(data, {
            "faqbot_session": session, "type": reply.type, "faq_id": reply.faq_id,
            "procedure": reply.procedure, "topic": reply.topic, "ticket_id": ticket}),
    }
