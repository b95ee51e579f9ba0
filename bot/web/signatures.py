"""Signed webhook requests are accepted once: the nonces already seen.

`SeenSignatures` keeps them in this process (one box). `RedisNonces` keeps
them in Redis (`SET key NX EX 300`), so a signed request replayed to another
replica is refused too; while Redis refuses or hangs it falls back to this
process's memory (a replay to the same replica is still refused).
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from ..sessions import Breaker, redis_client

FRESH_SECONDS = 300  # a signed request older than this is refused anyway


class SignatureNonces(Protocol):
    def first_use(self, key: str, stamp: int) -> bool:
        """True the first time `key` (signed at `stamp`) is seen, False after."""
        ...


class SeenSignatures:
    """Signatures already accepted, kept for their five minutes of freshness,
    so a captured signed request cannot be replayed."""

    def __init__(self, max_kept: int = 10_000) -> None:
        self._seen: dict[str, int] = {}
        self.max_kept = max_kept

    def first_use(self, key: str, stamp: int) -> bool:
        now = int(time.time())
        if len(self._seen) > self.max_kept:
            self._seen = {s: t for s, t in self._seen.items() if now - t <= FRESH_SECONDS}
        if key in self._seen:
            return False
        self._seen[key] = stamp
        return True

    def __contains__(self, key: str) -> bool:
        return key in self._seen


class RedisNonces:
    """Nonces shared by every replica: the first `SET <prefix>nonce:<key> NX EX 300` wins."""

    def __init__(self, url_or_client: Any, prefix: str = "faqbot:",
                 breaker: Breaker | None = None) -> None:
        self.redis = redis_client(url_or_client) if isinstance(url_or_client, str) \
            else url_or_client
        self.prefix = f"{prefix}nonce:"
        self.local = SeenSignatures()
        self.breaker = breaker or Breaker("Redis (webhook nonces)")

    def first_use(self, key: str, stamp: int) -> bool:
        if key in self.local:  # seen here, perhaps while Redis was down
            return False
        if self.breaker.closed():
            try:
                fresh = self.redis.set(self.prefix + key, str(stamp), nx=True,
                                       ex=FRESH_SECONDS)
            except Exception as exc:
                self.breaker.failed(exc, "checking webhook nonces in this process only")
            else:
                self.breaker.succeeded()
                return bool(fresh)
        return self.local.first_use(key, stamp)
