"""Per-client rate limiting: a fixed one-minute window counter per client key."""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class RateLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic,
                 max_clients: int = 100_000) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._max_clients = max_clients
        self._windows: dict[str, tuple[float, int]] = {}

    def hit(self, client: str) -> int:
        """Count one request; return 0 if allowed, else seconds to wait."""
        if self.per_minute <= 0:
            return 0
        now = self._clock()
        start, count = self._windows.get(client, (now, 0))
        if now - start >= 60:
            start, count = now, 0
        if count >= self.per_minute:
            return max(1, math.ceil(60 - (now - start)))
        if len(self._windows) >= self._max_clients:
            self._windows = {k: v for k, v in self._windows.items() if now - v[0] < 60}
        self._windows[client] = (start, count + 1)
        return 0
