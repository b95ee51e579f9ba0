"""Records every reply's type, entry and corpus version for the insights page.

Written in batches from a background task rather than one transaction per
message: these rows feed daily rates, not patient care, and a commit per
message was the largest cost of a reply. Tickets are not batched; the engine
stores them before the reply leaves.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from ..logs import Throttled
from ..store import Store
from .tasks import running

FLUSH_SECONDS = 1.0
MAX_BUFFERED = 100_000


class ReplyLog:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.buffer: list[tuple[dt.datetime, str, str | None, str | None]] = []
        self._down = Throttled(logging.getLogger("faqbot.degraded"))

    def add(self, reply_type: str, faq_id: str | None, corpus_version: str | None) -> None:
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
        self.buffer.append((now, reply_type, faq_id, corpus_version))

    async def flush(self) -> None:
        if self.buffer:
            rows, self.buffer = self.buffer, []
            try:
                await asyncio.to_thread(self.store.record_replies, rows)
            except Exception as exc:
                # The database down: keep the rows for the next flush (bounded),
                # and keep the flusher alive; one warning a minute, not a traceback.
                self.buffer = (rows + self.buffer)[-MAX_BUFFERED:]
                self._down.warning("reply log not written (%s); %d row(s) kept",
                                   type(exc).__name__, len(self.buffer))


REPLY_LOG = web.AppKey("reply_log", ReplyLog)


def setup_reply_log(app: web.Application, store: Store) -> None:
    app[REPLY_LOG] = ReplyLog(store)

    async def flusher(app: web.Application) -> AsyncIterator[None]:
        async def loop() -> None:
            while True:
                await asyncio.sleep(FLUSH_SECONDS)
                await app[REPLY_LOG].flush()

        async with running(loop()):
            yield
        await app[REPLY_LOG].flush()

    app.cleanup_ctx.append(flusher)
