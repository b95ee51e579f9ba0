"""What the Chatwoot channel sends back: each reply as a plan of API calls
(messages, option buttons, a private note for the agents, opening the
conversation), and the fixed plans for what the bot cannot read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...domain import HANDED_OVER, Reply
from ..replies import bubbles

WEB_WIDGET = "Channel::WebWidget"


@dataclass(frozen=True)
class Call:
    path: str  # under the conversation's URL: "/messages" or "/toggle_status"
    body: dict[str, Any]
    what: str  # for logs and the ticket's notify_error


def message(text: str) -> dict[str, Any]:
    return {"content": text, "message_type": "outgoing"}


def reply_plan(reply: Reply, channel: Any, procedure: str | None = None) -> list[Call]:
    calls: list[Call] = []
    for bubble in bubbles(reply):
        if not bubble.options:
            calls.append(Call("/messages", message(bubble.text), bubble.what))
        elif channel in (WEB_WIDGET, None):
            calls.append(Call("/messages", {
                **message(bubble.text), "content_type": "input_select",
                "content_attributes": {"items": [{"title": o, "value": o}
                                                 for o in bubble.options]},
            }, bubble.what))
        else:
            # Option buttons render only in the website widget; elsewhere list them.
            calls.append(Call("/messages", message(bubble.listed()), bubble.what))
    if reply.type in HANDED_OVER:
        calls.append(Call("/messages", {"content": private_note(reply, procedure),
                                        "message_type": "outgoing",
                                        "private": True}, "private note"))
        calls.append(Call("/toggle_status", {"status": "open"}, "toggle_status"))
    return calls


def failed_plan() -> list[Call]:
    return [
        Call("/messages", message(
            "Sorry, I couldn't find an answer just now. I've passed this conversation to our "
            "team."), "reply"),
        Call("/messages", {"content": "FAQ bot: the bot could not reply to the last message "
                           "in time (or failed); no ticket was opened. Please read it above.",
                           "message_type": "outgoing", "private": True}, "private note"),
        Call("/toggle_status", {"status": "open"}, "toggle_status"),
    ]


def too_long_plan(limit: int) -> list[Call]:
    return [
        Call("/messages", message(
            f"That message is longer than I can read (over {limit} characters). I've passed "
            "this conversation to our team."), "reply"),
        Call("/messages", {"content": "FAQ bot: the patient's message was too long for the "
                           "bot to read; no ticket was opened. Please read it above.",
                           "message_type": "outgoing", "private": True}, "private note"),
        Call("/toggle_status", {"status": "open"}, "toggle_status"),
    ]


def attachment_plan(mode: str, emergency_number: str, kinds: list[str],
                     count: int) -> list[Call]:
    if mode != "handoff":
        return [Call("/messages", message(
            "I can only read typed messages, so I could not open that photo, voice note or "
            "file. Please type your question in words. If it is urgent, call your care team; "
            f"in an emergency, call {emergency_number}."), "reply")]
    return [
        Call("/messages", message(
            "I can only read typed messages, so I could not open that photo, voice note or "
            "file. I've passed this conversation to our team. In an emergency, call "
            f"{emergency_number}."), "reply"),
        Call("/messages", {"content": f"FAQ bot: the patient sent {count} attachment(s) "
                           f"({', '.join(kinds)}) and no text, which the bot cannot read; no "
                           "ticket was opened. Please look at it above.",
                           "message_type": "outgoing", "private": True}, "private note"),
        Call("/toggle_status", {"status": "open"}, "toggle_status"),
    ]


def private_note(reply: Reply, procedure: str | None) -> str:
    heading = {"emergency": "URGENT: possible emergency",
               "urgent": "URGENT: needs the care team today",
               "handoff": "Patient asked for a person",
               "fallback": "Bot could not answer"}[reply.type]
    lines = [f"FAQ bot: {heading}.", f"Reply type: {reply.type}."]
    if reply.ticket_id:
        lines.append(f"Bot ticket: {reply.ticket_id}.")
    if procedure:
        lines.append(f"Procedure: {procedure}.")
    if reply.reason:
        lines.append(f"Reason: {reply.reason}.")
    if reply.suggestions:
        lines.append("Closest FAQ entries: " + ", ".join(s.faq_id for s in reply.suggestions)
                     + ".")
    lines.append("The conversation is now open for the team; the bot will not reply again "
                 "while it is open.")
    return "\n".join(lines)
