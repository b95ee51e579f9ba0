"""The one path from a channel to the engine and back, and the one way a reply
becomes a channel's messages.

`answer` runs the engine in its own thread (the reply may write a ticket and
read Redis), then records the reply and tells staff about hand-overs.
`bubbles` splits a reply into what a chat shows: the disclaimer on a first
turn, then the text with the questions a patient may tap. Each channel maps
bubbles to its own format.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiohttp import web

from ..domain import Reply
from .keys import BOT, ENGINE, METRICS
from .notify import NOTIFIER
from .replylog import REPLY_LOG

# Reply types staff hear about at once (a fallback waits in the queue).
NOTIFIED = ("handoff", "emergency", "urgent")

# Chatwoot and Dialogflow give a webhook about 5 s; a channel answers within
# this (seconds), with a holding message if the engine's reply is not ready.
REPLY_BUDGET = web.AppKey("reply_budget", float)
DEFAULT_REPLY_BUDGET = 3.5


async def answer(request: web.Request, text: str, session_id: str | None) -> Reply:
    """The engine's reply, off the event loop; recorded, counted, and notified."""
    app = request.app
    loop = asyncio.get_running_loop()
    reply = await loop.run_in_executor(app.get(ENGINE), app[BOT].reply, text, session_id)
    app[REPLY_LOG].add(reply.type, reply.faq_id, reply.corpus_version)
    app[METRICS]["replies"].labels(reply.type).inc()
    if reply.ticket_id and reply.type in NOTIFIED:
        app[NOTIFIER].ticket_opened(reply.ticket_id, reply.type, reply.procedure)
    return reply


def reply_budget(app: web.Application) -> float:
    """Seconds a channel waits for the engine before it sends a holding message."""
    return app.get(REPLY_BUDGET, DEFAULT_REPLY_BUDGET)


async def answer_within(request: web.Request, text: str, session_id: str | None
                        ) -> tuple[asyncio.Task[Reply], Reply | None]:
    """`answer`, waited for at most the reply budget: the running task, and the
    reply if it came in time. The task goes on either way (the engine's turn,
    its ticket and its notification are never cut short)."""
    task = asyncio.ensure_future(answer(request, text, session_id))
    try:
        return task, await asyncio.wait_for(asyncio.shield(task), reply_budget(request.app))
    except TimeoutError:
        return task, None


@dataclass(frozen=True)
class Bubble:
    """One message of a reply as a chat shows it."""

    text: str
    options: tuple[str, ...] = ()  # questions the patient may tap
    what: str = "reply"  # "disclaimer" or "reply"

    def listed(self) -> str:
        """The text with its options as a plain list, for chats without buttons."""
        return "\n".join([self.text, *(f"- {o}" for o in self.options)])


def bubbles(reply: Reply) -> list[Bubble]:
    out = [Bubble(reply.disclaimer, what="disclaimer")] if reply.disclaimer else []
    out.append(Bubble(reply.text, tuple(s.question for s in reply.suggestions)))
    return out
