"""What patients ask that the bot can't answer, and how the bot is doing day by day.

Open fallback tickets are grouped by similar wording (normalised text, then a
greedy pass with rapidfuzz's token-set ratio), so the console can show the
most-asked gaps worth teaching first.
"""

from __future__ import annotations

from typing import Any

from rapidfuzz import fuzz

from .normalise import normalise
from .store import Store

SIMILARITY = 70
TOP = 10


def group_messages(
    tickets: list[dict[str, Any]], threshold: int = SIMILARITY
) -> list[dict[str, Any]]:
    """Greedy grouping: each message joins the first group whose example it resembles."""
    groups: list[dict[str, Any]] = []
    for ticket in tickets:
        key = normalise(ticket.get("message") or "")
        if not key:
            continue
        for group in groups:
            if fuzz.token_set_ratio(key, group["_key"]) >= threshold:
                group["count"] += 1
                group["ticket_ids"].append(ticket["id"])
                break
        else:
            groups.append({"count": 1, "example": ticket["message"],
                           "ticket_ids": [ticket["id"]], "_key": key})
    groups.sort(key=lambda g: -g["count"])  # stable: ties keep the newest first
    return [{k: v for k, v in g.items() if k != "_key"} for g in groups]


def insights(store: Store, top: int = TOP) -> dict[str, Any]:
    open_fallbacks = store.list_tickets(status="open", kind="fallback", limit=5000)
    return {
        "gaps": group_messages(open_fallbacks)[:top],
        "daily": store.daily_rates(),
        "feedback": store.feedback_counts(),
    }
