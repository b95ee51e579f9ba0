"""Signed webhook requests are accepted once: the nonces already seen.

`SeenSignatures` keeps them in this process; a shared variant (Redis) for
several replicas fits the same `SignatureNonces` interface.
"""

from __future__ import annotations

import time
from typing import Protocol

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
