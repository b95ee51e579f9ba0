"""Conversation memory behind a small interface.

`MemorySessionStore` keeps sessions in one process with a time-to-live and a
bound on their number; a shared store (Redis) implements the same two methods
when several server processes run.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from .domain import SessionState

MAX_TURNS = 10


class SessionStore(Protocol):
    def load(self, session_id: str) -> SessionState: ...

    def save(self, state: SessionState) -> None: ...


class MemorySessionStore:
    def __init__(
        self,
        ttl_seconds: float = 3600.0,
        max_sessions: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_seconds <= 0 or max_sessions < 1:
            raise ValueError("session ttl and max_sessions must be positive")
        self.ttl_seconds = ttl_seconds
        self.max_sessions = max_sessions
        self._clock = clock
        self._items: OrderedDict[str, tuple[float, SessionState]] = OrderedDict()
        self._lock = threading.Lock()

    def load(self, session_id: str) -> SessionState:
        with self._lock:
            item = self._items.get(session_id)
            if item and self._clock() - item[0] <= self.ttl_seconds:
                return item[1]
            self._items.pop(session_id, None)
            return SessionState(session_id)

    def save(self, state: SessionState) -> None:
        del state.turns[:-MAX_TURNS]
        with self._lock:
            self._items[state.session_id] = (self._clock(), state)
            self._items.move_to_end(state.session_id)
            while len(self._items) > self.max_sessions:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
