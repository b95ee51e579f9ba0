"""Log lines an operator can read and an auditor can collect: text or JSON lines.

`setup_logging(log_format, replica)` installs one handler on the root logger
(standard error) with the format chosen by the `log_format` setting. Every
line carries a UTC timestamp, the level, the logger, the replica and, while a
request is being handled, its id (the web layer sets `REQUEST_ID`, or passes
`extra={"request_id": ...}`). In JSON each record is exactly one line: a
traceback is one string field, `exc`, never extra lines a collector would
take for records of their own.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TextIO

REQUEST_ID: ContextVar[str | None] = ContextVar("faqbot_request_id", default=None)

# Attributes every LogRecord has; anything else came from `extra=` and is kept.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id",
                                                          "replica"}


def replica_label(replica_name: str, port: int) -> str:
    """The replica's name in logs: the `replica_name` setting, else host:port."""
    return replica_name or f"{socket.gethostname()}:{port}"


def _timestamp(record: logging.LogRecord) -> str:
    moment = dt.datetime.fromtimestamp(record.created, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _request_id(record: logging.LogRecord) -> str | None:
    value = getattr(record, "request_id", None) or REQUEST_ID.get()
    return str(value) if value else None


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, replica, request_id, message, exc."""

    def __init__(self, replica: str) -> None:
        super().__init__()
        self.replica = replica

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "replica": self.replica,
        }
        request_id = _request_id(record)
        if request_id:
            entry["request_id"] = request_id
        entry["message"] = record.getMessage()
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`2026-11-30T06:50:00.123Z INFO faqbot.access [replica] [request] message` for people."""

    def __init__(self, replica: str) -> None:
        super().__init__()
        self.replica = replica

    def format(self, record: logging.LogRecord) -> str:
        request_id = _request_id(record)
        head = f"{_timestamp(record)} {record.levelname} {record.name} [{self.replica}]"
        if request_id:
            head += f" [{request_id}]"
        line = f"{head} {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler this module installed, so a second set-up replaces it."""


class _StderrHandler(_Handler):
    """Writes to whatever `sys.stderr` is at the time of each record, not the one
    at set-up: `main()` run in-process (tests, an embedding script) may have been
    handed a stream that is closed by the time a later record arrives."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def setup_logging(log_format: str, replica: str, level: int = logging.INFO,
                  stream: TextIO | None = None) -> logging.Handler:
    """Send every log record to `stream` (standard error) as `log_format` lines."""
    if log_format not in ("text", "json"):
        raise ValueError(f"log_format must be text or json, got {log_format!r}")
    handler = _Handler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(JsonFormatter(replica) if log_format == "json"
                         else TextFormatter(replica))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler


class Throttled:
    """One logger's warnings about a lasting condition (Redis or the database
    down), at most one line per `every` seconds: an outage logs a line a
    minute saying how many were held back, not a traceback per request."""

    def __init__(self, logger: logging.Logger, every: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.every = every
        self._clock = clock
        self._last = -float("inf")
        self._held = 0
        self._lock = threading.Lock()

    def warning(self, message: str, *args: Any) -> bool:
        """Log `message` unless one was logged within `every` seconds; True if logged."""
        with self._lock:
            now = self._clock()
            if now - self._last < self.every:
                self._held += 1
                return False
            held, self._held, self._last = self._held, 0, now
        suffix = f" ({held} similar held back)" if held else ""
        self.logger.warning(message + suffix, *args)
        return True

    def reset(self) -> None:
        """The condition ended: the next warning is logged at once."""
        with self._lock:
            self._last = -float("inf")
            self._held = 0
