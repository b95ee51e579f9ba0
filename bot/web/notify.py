"""Tells staff about handoff and emergency tickets through an incoming-webhook URL.

Slack, Teams and most chat tools accept `{"text": ...}` on such a URL. The
message names the ticket and its kind only, never the patient's words, since
the chat tool is outside the hospital's record. Delivery is retried with
backoff in the background; a final failure is written on the ticket, where
the staff console shows it. The ticket itself was stored before the reply.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence

import aiohttp
from aiohttp import web

from ..store import Store
from .retry import Undeliverable, post_json

log = logging.getLogger("faqbot.notify")
DELAYS: Sequence[float] = (0.5, 1.0, 2.0)


class Notifier:
    def __init__(self, url: str, store: Store, delays: Sequence[float] = DELAYS) -> None:
        self.url = url
        self.store = store
        self.delays = delays
        self.pending: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    def ticket_opened(self, ticket_id: str, kind: str, procedure: str | None) -> None:
        if not self.url:
            return
        task = asyncio.get_running_loop().create_task(self._deliver(ticket_id, kind, procedure))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def _deliver(self, ticket_id: str, kind: str, procedure: str | None) -> None:
        urgent = "URGENT " if kind in ("emergency", "urgent") else ""
        text = (f"{urgent}faqbot: new {kind} ticket {ticket_id}"
                f"{' about ' + procedure if procedure else ''}. Open the staff console to "
                "review it.")
        try:
            await post_json(self._client(), self.url, {"text": text}, delays=self.delays,
                            what=f"notification for {ticket_id}")
        except Undeliverable as exc:
            await asyncio.to_thread(self.store.set_notify_error, ticket_id,
                                    f"staff notification failed after {exc.tries} "
                                    f"attempts: {exc.error}")

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        return self._session

    async def close(self) -> None:
        if self.pending:
            await asyncio.gather(*self.pending, return_exceptions=True)
        if self._session is not None:
            await self._session.close()


NOTIFIER = web.AppKey("notifier", Notifier)


def setup_notifier(app: web.Application, url: str, store: Store) -> None:
    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        yield
        await app[NOTIFIER].close()

    app[NOTIFIER] = Notifier(url, store)
    app.cleanup_ctx.append(lifetime)
