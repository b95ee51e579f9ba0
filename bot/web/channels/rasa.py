"""Rasa REST channel: `POST /webhooks/rest/webhook`, `GET /webhooks/rest/`.

Speaks Rasa's protocol (`{"sender", "message"}` in, a list of
`{"recipient_id", "text", "buttons"}` out), so widgets built for Rasa work
unchanged. A client that sends no sender gets a session of its own.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ...session_tokens import new_session_id
from ..keys import TOKENS
from ..replies import answer, bubbles
from ..requests import (
    check_signature,
    message_text,
    owns_session,
    presented_token,
    read_json,
    session_field,
)


async def post_rasa(request: web.Request) -> web.Response:
    body = await request.read()
    check_signature(request, body)
    data = await read_json(request)
    text = await message_text(request, data, "message")
    # Without a sender every such client would share one session: each gets its own.
    chosen = session_field(data, "sender")
    owner = await owns_session(request, chosen, presented_token(request, data))
    sender = chosen or "rasa-" + new_session_id()
    reply = await answer(request, text, sender)
    messages: list[dict[str, Any]] = []
    for bubble in bubbles(reply):
        message: dict[str, Any] = {"recipient_id": sender, "text": bubble.text}
        if bubble.options:
            message["buttons"] = [{"title": o, "payload": o} for o in bubble.options]
        messages.append(message)
    messages[-1]["custom"] = {
        "type": reply.type, "faq_id": reply.faq_id, "ticket_id": reply.ticket_id,
        "session_token": request.app[TOKENS].issue(sender) if owner else ""}
    return web.json_response(messages)


async def get_rasa_status(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def setup_rasa(app: web.Application) -> None:
    app.router.add_post("/webhooks/rest/webhook", post_rasa)
    app.router.add_get("/webhooks/rest/", get_rasa_status)
