"""Dialogflow ES fulfillment: `POST /channels/dialogflow`.

Dialogflow calls this webhook for intents with fulfillment enabled (usually the
Default Fallback Intent) with a WebhookRequest; we answer with a
WebhookResponse. The Dialogflow `session` string is the bot's session id, so
context carries from turn to turn. Handoff and emergency replies are flagged in
`payload.faqbot` for the integration to act on; the ticket is already in the
store either way.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any

from aiohttp import web

from ...domain import HANDED_OVER
from ..keys import BOT, SETTINGS
from ..replies import answer, bubbles
from ..requests import check_rate, read_json, text_field


def setup_dialogflow(app: web.Application) -> None:
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
    reply = await answer(request, text, session)

    messages: list[dict[str, Any]] = []
    for bubble in bubbles(reply):
        messages.append({"text": {"text": [bubble.text]}})
        if bubble.options:
            title = ("Did you mean:" if reply.type in ("clarify", "fallback")
                     else "You might also ask:")
            messages.append({"quickReplies": {"title": title,
                                              "quickReplies": list(bubble.options)}})
    full_text = "\n\n".join(bubble.text for bubble in bubbles(reply))
    return web.json_response({
        "fulfillmentText": full_text,
        "fulfillmentMessages": messages,
        "source": "faqbot",
        "payload": {"faqbot": {
            "type": reply.type,
            "faq_id": reply.faq_id,
            "ticket_id": reply.ticket_id,
            "handoff": reply.type in HANDED_OVER,
            "emergency": reply.type == "emergency",
            "suggestions": [{"faq_id": s.faq_id, "question": s.question}
                            for s in reply.suggestions],
        }},
    })
