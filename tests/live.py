"""A real server on a loopback port for browser tests, and the browser's settings."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from tools.servers import free_port

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]


class LiveServer:
    """The real app on a loopback port, served from a thread with its own loop."""

    def __init__(self, db_path: Path, **overrides: Any) -> None:
        from aiohttp import web

        from bot.assembly import build_bot
        from bot.config import load_settings
        from bot.store import Store
        from bot.web.app import create_app

        self.settings = load_settings().replace(db="sqlite:///" + str(db_path),
                                                rate_limit=0, port=0, **overrides)
        self.store = Store(self.settings.db_url)
        bot = build_bot(self.settings, tickets=self.store)
        self.app = create_app(self.settings, bot, self.store)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._web = web
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._runner: Any = None
        self._thread = threading.Thread(target=self._run, name="live-server", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._runner = self._web.AppRunner(self.app, access_log=None)
            self._loop.run_until_complete(self._runner.setup())
            site = self._web.TCPSite(self._runner, "127.0.0.1", self.port)
            self._loop.run_until_complete(site.start())
        except BaseException as exc:  # pragma: no cover - reported to the fixture
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.close()

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self.store.close()
