"""Storage that never stands between a patient and a reply.

`ResilientTickets` wraps the ticket store: when a write fails (PostgreSQL
down, a disk full) the ticket keeps the id the patient was given and waits in
memory, and every later write first retries what is waiting. `ResilientSessions`
does the same for conversation memory: a failed load starts a fresh session, a
failed save is logged. Either way the reply goes out.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import deque
from typing import Any

from .domain import SessionState
from .sessions import SessionStore

log = logging.getLogger("faqbot.outbox")

_MAX_WAITING = 10_000


def new_ticket_id() -> str:
    return "T" + uuid.uuid4().hex[:11].upper()


class ResilientTickets:
    def __init__(self, sink: Any) -> None:
        self.sink = sink
        self.waiting: deque[tuple[str, dict[str, Any]]] = deque(maxlen=_MAX_WAITING)
        self._lock = threading.Lock()

    def open_ticket(self, **ticket: Any) -> str:
        ticket_id = ticket.pop("ticket_id", None) or new_ticket_id()
        self.flush()
        try:
            self.sink.open_ticket(ticket_id=ticket_id, **ticket)
        except Exception:
            log.exception("ticket %s could not be stored; kept to retry", ticket_id)
            with self._lock:
                self.waiting.append(("open", {"ticket_id": ticket_id, **ticket}))
        return ticket_id

    def note_repeat(self, ticket_id: str, message: str) -> None:
        self.flush()
        try:
            self.sink.note_repeat(ticket_id, message)
        except Exception:
            log.exception("repeat of ticket %s could not be stored; kept to retry", ticket_id)
            with self._lock:
                self.waiting.append(("repeat", {"ticket_id": ticket_id, "message": message}))

    def flush(self) -> int:
        """Retry waiting writes in order; stop at the first that fails again."""
        done = 0
        while True:
            with self._lock:
                if not self.waiting:
                    return done
                action, ticket = self.waiting[0]
            try:
                if action == "open":
                    self.sink.open_ticket(**ticket)
                else:
                    self.sink.note_repeat(ticket["ticket_id"], ticket["message"])
            except Exception:
                log.warning("storage still failing; %d ticket writes waiting", len(self.waiting))
                return done
            with self._lock:
                self.waiting.popleft()
            done += 1


class ResilientSessions:
    def __init__(self, store: SessionStore) -> None:
        self.store = store

    def load(self, session_id: str) -> SessionState:
        try:
            return self.store.load(session_id)
        except Exception:
            log.exception("session store failed on load; starting a fresh session")
            return SessionState(session_id)

    def save(self, state: SessionState) -> None:
        try:
            self.store.save(state)
        except Exception:
            log.exception("session store failed on save; this turn is not remembered")
