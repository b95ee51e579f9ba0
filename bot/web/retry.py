"""POST JSON to another service, retried with backoff: the one helper behind
staff notifications (`notify.py`) and Chatwoot deliveries."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

log = logging.getLogger("faqbot.retry")


class Undeliverable(Exception):
    """The service refused or could not be reached, after every try."""

    def __init__(self, error: str, tries: int) -> None:
        super().__init__(f"{error} after {tries} {'try' if tries == 1 else 'tries'}"
                         if tries else error)
        self.error = error
        self.tries = tries


def doubling(first: float, tries: int) -> tuple[float, ...]:
    """The waits between `tries` attempts: first, twice that, and so on."""
    return tuple(first * 2 ** i for i in range(max(tries - 1, 0)))


async def post_json(http: aiohttp.ClientSession, url: str, body: Any, *,
                    delays: Sequence[float], headers: Mapping[str, str] | None = None,
                    retry_refusals: bool = True, what: str = "delivery") -> None:
    """POST `body`; on failure wait the next of `delays` and try again.

    A 429 or 5xx status and network errors are retried; other 4xx ones only
    with `retry_refusals` (a refused token will not get better by retrying).
    Raises `Undeliverable` with the last error after the last try.
    """
    error = "no attempt made"
    tries = 0
    for delay in (0.0, *delays):
        if delay:
            await asyncio.sleep(delay)
        tries += 1
        try:
            async with http.post(url, json=body, headers=headers) as response:
                if response.status < 300:
                    return
                error = f"HTTP {response.status}"
                refused = response.status != 429 and response.status < 500
                if refused and not retry_refusals:
                    raise Undeliverable(error, tries)
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:200]
        log.warning("%s failed (try %d): %s", what, tries, error)
    raise Undeliverable(error, tries)
