"""Storage that never stands between a patient and a reply.

`ResilientTickets` wraps the ticket store: when a write fails (PostgreSQL
down, a disk full) the ticket keeps the id the patient was given and waits in
memory, and every later write first retries what is waiting. `ResilientSessions`
does the same for conversation memory: a failed load starts a fresh session, a
failed save is logged. Either way the reply goes out.

`SpooledTickets` (the server's ticket sink) adds durability: a write the
database does not take within `deadline` seconds goes to a local spool file
(SQLite under data_dir), and a background thread replays the spool in order
once the database answers. Each spooled write has an id and a replayed
ticket that is already in the database counts as done, so nothing is lost
and nothing is stored twice, a restart during the outage included.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import functools
import json
import logging
import os
import sqlite3
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from .domain import Match, SessionState, Turn
from .logs import Throttled
from .sessions import Breaker, SessionStore

log = logging.getLogger("faqbot.outbox")

_MAX_WAITING = 10_000


def new_ticket_id() -> str:
    return "T" + uuid.uuid4().hex[:11].upper()


class ResilientTickets:
    def __init__(self, sink: Any) -> None:
        self.sink = sink
        self.waiting: deque[tuple[str, dict[str, Any]]] = deque(maxlen=_MAX_WAITING)
        self._lock = threading.Lock()

    def open_ticket(self, **ticket: Any) -> str:
        ticket_id = ticket.pop("ticket_id", None) or new_ticket_id()
        self.flush()
        try:
            self.sink.open_ticket(ticket_id=ticket_id, **ticket)
        except Exception:
            log.exception("ticket %s could not be stored; kept to retry", ticket_id)
            with self._lock:
                self.waiting.append(("open", {"ticket_id": ticket_id, **ticket}))
        return ticket_id

    def note_repeat(self, ticket_id: str, message: str) -> None:
        self.flush()
        try:
            self.sink.note_repeat(ticket_id, message)
        except Exception:
            log.exception("repeat of ticket %s could not be stored; kept to retry", ticket_id)
            with self._lock:
                self.waiting.append(("repeat", {"ticket_id": ticket_id, "message": message}))

    def flush(self) -> int:
        """Retry waiting writes in order; stop at the first that fails again."""
        done = 0
        while True:
            with self._lock:
                if not self.waiting:
                    return done
                action, ticket = self.waiting[0]
            try:
                if action == "open":
                    self.sink.open_ticket(**ticket)
                else:
                    self.sink.note_repeat(ticket["ticket_id"], ticket["message"])
            except Exception:
                log.warning("storage still failing; %d ticket writes waiting", len(self.waiting))
                return done
            with self._lock:
                self.waiting.popleft()
            done += 1


class ResilientSessions:
    def __init__(self, store: SessionStore) -> None:
        self.store = store

    def load(self, session_id: str) -> SessionState:
        try:
            return self.store.load(session_id)
        except Exception:
            log.exception("session store failed on load; starting a fresh session")
            return SessionState(session_id)

    def save(self, state: SessionState) -> None:
        try:
            self.store.save(state)
        except Exception:
            log.exception("session store failed on save; this turn is not remembered")


class TicketSpool:
    """An ordered, durable queue of ticket writes in one SQLite file.

    Rows are appended with a unique entry id and removed once the database
    has taken them; several processes on one box may share the file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not self.path.exists()
        self._db = sqlite3.connect(self.path, timeout=5, check_same_thread=False,
                                   isolation_level=None)
        if fresh:
            os.chmod(self.path, 0o600)  # redacted patient messages: the service's alone
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # on disk before the reply leaves
            self._db.execute("CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY "
                             "AUTOINCREMENT, entry_id TEXT NOT NULL UNIQUE, action TEXT NOT "
                             "NULL, payload TEXT NOT NULL, spooled_at TEXT NOT NULL)")

    def append(self, entry_id: str, action: str, payload: dict[str, Any]) -> None:
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO spool (entry_id, action, payload, "
                             "spooled_at) VALUES (?, ?, ?, ?)",
                             (entry_id, action, json.dumps(payload, default=_plain), now))

    def pending(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM spool").fetchone()[0])

    def oldest(self, limit: int = 100) -> list[tuple[int, str, str, dict[str, Any], str]]:
        with self._lock:
            rows = self._db.execute("SELECT seq, entry_id, action, payload, spooled_at FROM "
                                    "spool ORDER BY seq LIMIT ?", (limit,)).fetchall()
        return [(seq, entry, action, json.loads(payload), at)
                for seq, entry, action, payload, at in rows]

    def remove(self, entry_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM spool WHERE entry_id = ?", (entry_id,))

    @contextlib.contextmanager
    def replaying(self) -> Iterator[bool]:
        """Whether this process may replay now: one replay at a time per file."""
        with open(self.path.with_suffix(".lock"), "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    raise TypeError(f"cannot spool {type(value).__name__}")


def _restore(payload: dict[str, Any], spooled_at: str) -> dict[str, Any]:
    ticket = dict(payload)
    ticket["turns"] = [Turn(**t) for t in ticket.get("turns", [])]
    ticket["candidates"] = [Match(**c) for c in ticket.get("candidates", [])]
    # The database stamps the ticket when it takes it; staff should see when
    # the patient wrote.
    note = f"[written {spooled_at[:16].replace('T', ' ')} UTC, held while the database was down]"
    ticket["summary"] = f"{note} {ticket.get('summary', '')}".strip()
    return ticket


class SpooledTickets:
    """A ticket sink in front of the store: bounded waits, a durable spool, replay in order."""

    def __init__(self, sink: Any, spool: TicketSpool | str | Path, deadline: float = 0.5,
                 retry_seconds: float = 1.0) -> None:
        self.sink = sink
        self.spool = spool if isinstance(spool, TicketSpool) else TicketSpool(spool)
        self.deadline = deadline
        self.retry_seconds = retry_seconds
        self.breaker = Breaker("database (tickets)", cooldown=retry_seconds)
        self._log = Throttled(log)
        self._calls = ThreadPoolExecutor(max_workers=4, thread_name_prefix="faqbot-tickets")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._replay_lock = threading.Lock()

    # -------------------------------------------------------------- the sink

    def open_ticket(self, **ticket: Any) -> str:
        ticket_id = str(ticket.pop("ticket_id", None) or new_ticket_id())
        self._write(ticket_id, "open", {"ticket_id": ticket_id, **ticket})
        return ticket_id

    def note_repeat(self, ticket_id: str, message: str) -> None:
        self._write("R" + uuid.uuid4().hex[:15].upper(), "repeat",
                    {"ticket_id": ticket_id, "message": message})

    def _write(self, entry_id: str, action: str, payload: dict[str, Any]) -> None:
        # Behind anything already spooled, so the database gets writes in order.
        if self.breaker.closed() and not self.spool.pending():
            try:
                self._bounded(lambda: self._apply(action, payload), entry_id)
            except Exception as exc:
                self.breaker.failed(exc, f"spooling tickets to {self.spool.path}")
            else:
                self.breaker.succeeded()
                return
        self.spool.append(entry_id, action, payload)

    def _bounded(self, call: Callable[[], None], entry_id: str | None = None) -> None:
        """`call` in a worker thread, waiting at most `deadline` seconds for it."""
        future = self._calls.submit(call)
        try:
            future.result(timeout=self.deadline)
        except FutureTimeout:
            if entry_id is not None:
                # If the database takes it after all, the spooled copy is not needed.
                def forget(done: Any) -> None:
                    if done.exception() is None:
                        self.spool.remove(entry_id)

                future.add_done_callback(forget)
            raise TimeoutError(f"no answer within {self.deadline} s") from None

    def _apply(self, action: str, payload: dict[str, Any]) -> None:
        if action == "repeat":
            self.sink.note_repeat(payload["ticket_id"], payload["message"])
            return
        try:
            self.sink.open_ticket(**payload)
        except Exception:
            # Already there (an earlier attempt went through late): done, not twice.
            getter = getattr(self.sink, "get_ticket", None)
            if getter is None or getter(payload["ticket_id"]) is None:
                raise

    # ------------------------------------------------------------- replay

    def replay(self) -> int:
        """Send spooled writes to the database, oldest first; stop at the first failure."""
        done = 0
        with self._replay_lock, self.spool.replaying() as mine:
            if not mine:
                return 0
            while batch := self.spool.oldest():
                for _, entry_id, action, payload, spooled_at in batch:
                    ticket = _restore(payload, spooled_at) if action == "open" else payload
                    try:
                        self._bounded(functools.partial(self._apply, action, ticket))
                    except Exception as exc:
                        self.breaker.failed(exc, f"{self.spool.pending()} ticket write(s) "
                                                 f"wait in {self.spool.path}")
                        return done
                    self.spool.remove(entry_id)
                    done += 1
        if done:
            self.breaker.succeeded()
            log.warning("replayed %d spooled ticket write(s) into the database", done)
        return done

    def start(self) -> None:
        """Replay in the background: now (a spool left by a previous run) and every
        `retry_seconds` while anything waits."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="faqbot-spool",
                                            daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                if self.spool.pending():
                    self.replay()
            except Exception as exc:  # never let the replayer die
                self._log.warning("spool replay failed: %s: %s", type(exc).__name__, exc)
            if self._stop.wait(self.retry_seconds):
                return

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self._calls.shutdown(wait=False, cancel_futures=True)
        self.spool.close()
