"""Conversation memory behind a small interface.

`MemorySessionStore` keeps sessions in one process with a time-to-live and a
bound on their number; a shared store (Redis) implements the same two methods
when several server processes run.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, Protocol

from .domain import SessionState, Turn

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


def state_to_json(state: SessionState) -> str:
    return json.dumps(asdict(state), ensure_ascii=False, separators=(",", ":"))


def state_from_json(raw: str | bytes) -> SessionState:
    data = json.loads(raw)
    data["turns"] = [Turn(**t) for t in data.get("turns", [])]
    return SessionState(**data)


def redis_client(url: str) -> Any:
    """A redis-py client for a redis:// URL, imported late so memory-only setups need none."""
    import redis

    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5,
                                health_check_interval=30)


class RedisSessionStore:
    """Sessions shared by every replica: one JSON value per session, expiring after the TTL.

    Each save refreshes the TTL, as the memory store does; the last writer wins
    when two replicas answer the same session at the same instant.
    """

    def __init__(self, url_or_client: Any, ttl_seconds: float = 3600.0,
                 prefix: str = "faqbot:") -> None:
        if ttl_seconds <= 0:
            raise ValueError("session ttl must be positive")
        self.redis = redis_client(url_or_client) if isinstance(url_or_client, str) \
            else url_or_client
        self.ttl_ms = max(1, int(ttl_seconds * 1000))
        self.prefix = f"{prefix}session:"

    def load(self, session_id: str) -> SessionState:
        raw = self.redis.get(self.prefix + session_id)
        if raw is None:
            return SessionState(session_id)
        try:
            return state_from_json(raw)
        except (ValueError, TypeError, KeyError):
            return SessionState(session_id)

    def save(self, state: SessionState) -> None:
        del state.turns[:-MAX_TURNS]
        self.redis.set(self.prefix + state.session_id, state_to_json(state), px=self.ttl_ms)

    def close(self) -> None:
        self.redis.close()
