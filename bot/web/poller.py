"""Follows teaching done on other replicas: polls the recorded corpus version
and reloads through `Teaching.sync` in a worker thread."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from .keys import SETTINGS, TEACHING
from .tasks import running

log = logging.getLogger("faqbot")


async def sync_corpus_once(app: web.Application, last_seen: str | None) -> str | None:
    """Reload the corpus from disk if another replica recorded a new version.

    Returns the recorded version now seen. The store read, loading and
    indexing all run in a thread; the engine swaps its index whole, so
    requests go on meanwhile.
    """
    return await asyncio.to_thread(app[TEACHING].sync, last_seen)


async def corpus_poller(app: web.Application) -> AsyncIterator[None]:
    interval = app[SETTINGS].corpus_poll_seconds
    if interval <= 0:
        yield
        return

    async def loop() -> None:
        try:
            last_seen = await asyncio.to_thread(app[TEACHING].record.corpus_version)
        except Exception:
            last_seen = None
        while True:
            await asyncio.sleep(interval)
            try:
                last_seen = await sync_corpus_once(app, last_seen)
            except asyncio.CancelledError:
                raise
            except Exception:  # a database blip must not end the poller
                log.exception("corpus poll failed")

    async with running(loop()):
        yield
