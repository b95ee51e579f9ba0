"""Conversation memory behind a small interface.

`MemorySessionStore` keeps sessions in one process with a time-to-live and a
bound on their number; a shared store (Redis) implements the same two methods
when several server processes run.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, Protocol

from .domain import SessionState, Turn
from .logs import Throttled

MAX_TURNS = 10
# Seconds a Redis call may take before it counts as failed. Redis answers in
# well under a millisecond; a patient must not wait on one that hangs.
REDIS_TIMEOUT = 0.3


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

    def discard(self, session_id: str) -> SessionState | None:
        """Take a session out (it moves to another store); None if absent or expired."""
        with self._lock:
            item = self._items.pop(session_id, None)
        if item and self._clock() - item[0] <= self.ttl_seconds:
            return item[1]
        return None

    def __len__(self) -> int:
        return len(self._items)


def state_to_json(state: SessionState) -> str:
    return json.dumps(asdict(state), ensure_ascii=False, separators=(",", ":"))


def state_from_json(raw: str | bytes) -> SessionState:
    data = json.loads(raw)
    data["turns"] = [Turn(**t) for t in data.get("turns", [])]
    return SessionState(**data)


def redis_client(url: str, timeout: float = REDIS_TIMEOUT) -> Any:
    """A redis-py client for a redis:// URL, imported late so memory-only setups need none.

    Short timeouts: a Redis that refuses or hangs costs a request at most
    `timeout` seconds, after which callers fall back (see `Breaker`)."""
    import redis

    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                health_check_interval=30)


class Breaker:
    """Whether to try a shared service (Redis) or go straight to the fallback.

    After a failure the service is left alone for `cooldown` seconds, so an
    outage costs one timeout per cooldown, not one per request; the warning
    is rate-limited (`Throttled`) and recovery is logged once.
    """

    def __init__(self, name: str, cooldown: float = 5.0, warn_every: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.cooldown = cooldown
        self._clock = clock
        self._until = 0.0
        self.failing = False
        self._log = logging.getLogger("faqbot.degraded")
        self._warn = Throttled(self._log, warn_every, clock)

    def closed(self) -> bool:
        """True when the service should be tried now."""
        return self._clock() >= self._until

    def failed(self, exc: BaseException, fallback: str) -> None:
        self.failing = True
        self._until = self._clock() + self.cooldown
        self._warn.warning("%s unavailable (%s: %s); %s", self.name, type(exc).__name__,
                           str(exc)[:200], fallback)

    def succeeded(self) -> None:
        if self.failing:
            self.failing = False
            self._warn.reset()
            self._log.warning("%s reachable again", self.name)


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


class FallbackSessions:
    """Redis sessions that survive a Redis outage: while Redis refuses or hangs,
    conversations live in this process (in-process sessions, as on one box),
    and a session kept here during the outage wins over Redis's older copy
    once Redis answers again. No patient gets an error for it."""

    def __init__(self, shared: SessionStore, local: MemorySessionStore | None = None,
                 breaker: Breaker | None = None) -> None:
        self.shared = shared
        self.local = local or MemorySessionStore()
        self.breaker = breaker or Breaker("Redis (sessions)")

    def load(self, session_id: str) -> SessionState:
        if self.breaker.closed():
            try:
                state = self.shared.load(session_id)
            except Exception as exc:
                self.breaker.failed(exc, "keeping conversations in this process")
            else:
                self.breaker.succeeded()
                kept = self.local.discard(session_id) if len(self.local) else None
                if kept is None:
                    return state
                # Kept here during an outage: newer than Redis's copy; move it back.
                try:
                    self.shared.save(kept)
                except Exception as exc:
                    self.local.save(kept)
                    self.breaker.failed(exc, "keeping conversations in this process")
                return kept
        return self.local.load(session_id)

    def save(self, state: SessionState) -> None:
        if self.breaker.closed():
            try:
                self.shared.save(state)
            except Exception as exc:
                self.breaker.failed(exc, "keeping conversations in this process")
            else:
                self.breaker.succeeded()
                return
        self.local.save(state)

    def ping(self) -> None:
        """Raise if the shared store does not answer (for /readyz)."""
        redis = getattr(self.shared, "redis", None)
        if redis is not None:
            redis.ping()
