"""Where the engine records what staff must see: the interface the store
implements, and an in-memory sink for the CLI and tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .domain import Match, Turn


class TicketSink(Protocol):
    """Where the engine records what staff must see; the store implements it."""

    def open_ticket(
        self,
        *,
        kind: str,
        session_id: str,
        message: str,
        turns: Sequence[Turn],
        candidates: Sequence[Match],
        procedure: str | None,
        urgent: bool,
        summary: str,
        ticket_id: str | None = None,
    ) -> str: ...

    def note_repeat(self, ticket_id: str, message: str) -> None: ...


@dataclass
class MemoryTickets:
    """A ticket sink kept in memory, for the CLI and tests."""

    tickets: list[dict[str, object]] = field(default_factory=list)

    def open_ticket(self, **ticket: object) -> str:
        ticket_id = str(ticket.pop("ticket_id", None) or f"T{len(self.tickets) + 1:05d}")
        self.tickets.append({"id": ticket_id, "repeats": 0, **ticket})
        return ticket_id

    def note_repeat(self, ticket_id: str, message: str) -> None:
        for ticket in self.tickets:
            if ticket["id"] == ticket_id:
                ticket["repeats"] = int(str(ticket["repeats"])) + 1
