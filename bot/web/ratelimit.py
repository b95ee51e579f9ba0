"""Rate limiting: a fixed one-minute window counter per key.

The web layer counts each message twice (`requests.check_rate`): per client
address, with a high ceiling (`rate_limit_address`: a hospital's guest Wi-Fi
is one address behind NAT), and per conversation (`rate_limit`). `hit` takes
the key's limit. `RateLimiter` counts in this process; `RedisRateLimiter`
counts in Redis so that every replica shares one budget per key.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from ..sessions import Breaker, redis_client


class Limiter(Protocol):
    """Counts a client's request; returns 0 if allowed, else seconds to wait.

    `remote` says whether `hit` makes a network call (the web layer then
    runs it in a thread, off the event loop)."""

    remote: bool

    def hit(self, client: str, limit: int | None = None) -> int: ...


class RateLimiter:
    remote = False

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic,
                 max_clients: int = 100_000) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._max_clients = max_clients
        # Oldest window first, so the limit evicts in constant time instead of
        # scanning every client.
        self._windows: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def hit(self, client: str, limit: int | None = None) -> int:
        """Count one request against `limit` a minute (default `per_minute`);
        return 0 if allowed, else seconds to wait."""
        limit = self.per_minute if limit is None else limit
        if limit <= 0:
            return 0
        now = self._clock()
        start, count = self._windows.get(client, (now, 0))
        if now - start >= 60:
            start, count = now, 0
        if count >= limit:
            return max(1, math.ceil(60 - (now - start)))
        self._windows[client] = (start, count + 1)
        self._windows.move_to_end(client)
        while len(self._windows) > self._max_clients:
            self._windows.popitem(last=False)
        return 0


class RedisRateLimiter:
    """The same contract over Redis: INCR a per-client key that EXPIREs after 60 s.

    While Redis refuses or hangs (each call bounded by the client's short
    timeout), this process counts on its own, so the limit still holds per
    replica and no patient gets an error for it."""

    remote = True

    def __init__(self, per_minute: int, url_or_client: Any, prefix: str = "faqbot:",
                 breaker: Breaker | None = None) -> None:
        self.per_minute = per_minute
        self.redis = redis_client(url_or_client) if isinstance(url_or_client, str) \
            else url_or_client
        self.prefix = f"{prefix}rate:"
        self.local = RateLimiter(per_minute)
        self.breaker = breaker or Breaker("Redis (rate limits)")

    def hit(self, client: str, limit: int | None = None) -> int:
        """Count one request against `limit` a minute (default `per_minute`);
        return 0 if allowed, else seconds to wait."""
        limit = self.per_minute if limit is None else limit
        if limit <= 0:
            return 0
        if not self.breaker.closed():
            return self.local.hit(client, limit)
        key = self.prefix + client
        try:
            pipe = self.redis.pipeline()
            pipe.incr(key)
            pipe.expire(key, 60, nx=True)  # the first hit of a window starts its clock
            pipe.ttl(key)
            count, _, ttl = pipe.execute()
            if ttl is None or ttl < 0:  # a key left without expiry must not block forever
                self.redis.expire(key, 60)
                ttl = 60
        except Exception as exc:
            self.breaker.failed(exc, "counting in this process")
            return self.local.hit(client, limit)
        self.breaker.succeeded()
        if count > limit:
            return max(1, int(ttl))
        return 0
