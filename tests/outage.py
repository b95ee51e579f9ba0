"""Real servers made unreachable, for the degraded-mode tests: a TCP proxy on
loopback in front of PostgreSQL or Redis that forwards, hangs (accepts and
never answers) or refuses (nothing listens on its port any more)."""

from __future__ import annotations

import asyncio
import copy
import threading
from typing import Any

from bot.engine import Bot
from bot.outbox import ResilientSessions, ResilientTickets
from tools.servers import free_port


class Proxy:
    """`forward()`, `hang()` and `refuse()` switch what a client of `port` sees."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.mode = "forward"
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, name="outage-proxy",
                                        daemon=True)
        self._thread.start()
        self._call(self._listen())

    def _call(self, work: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", self.port,
                                                  reuse_address=True)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            while self.mode == "hang":  # accepted, never answered
                await asyncio.sleep(0.05)
            up_reader, up_writer = await asyncio.open_connection(*self.target)
            self._writers.add(up_writer)
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer),
                                 return_exceptions=True)
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                while self.mode == "hang":  # connections already open stall too
                    await asyncio.sleep(0.05)
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    def forward(self) -> None:
        self.mode = "forward"
        if self._server is None:
            self._call(self._listen())

    def hang(self) -> None:
        self.mode = "hang"

    def refuse(self) -> None:
        """Close the port and every connection through it: a stopped server."""
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
                self._server = None
            for writer in list(self._writers):
                writer.transport.abort()
            self._writers.clear()

        self.mode = "forward"
        self._call(stop())

    def close(self) -> None:
        self.refuse()

        async def finish() -> None:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self._call(finish())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()


def closed_port() -> int:
    """A loopback port nothing listens on: connections are refused at once."""
    return free_port()


def bot_with(bot: Bot, *, sessions: Any = None, tickets: Any = None) -> Bot:
    """The same index and rules with other session and ticket stores, without
    rebuilding the index (seconds per test)."""
    clone = copy.copy(bot)
    if sessions is not None:
        clone.sessions = sessions
        clone._memory = ResilientSessions(sessions)
    if tickets is not None:
        clone.tickets = tickets
        clone.outbox = ResilientTickets(tickets)
    return clone
