"""Logs an auditor can use (issue 23): JSON lines with timestamp, level, logger,
replica and request id, a traceback as one field; the log_format setting picks it."""

from __future__ import annotations

import io
import json
import logging
import os
import re
from collections.abc import Iterator

import pytest

from bot.logs import REQUEST_ID, JsonFormatter, TextFormatter, replica_label, setup_logging


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:], root.level = handlers, level


def record(message: str = "hello %s", *args: object, exc: bool = False,
           **extra: object) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise RuntimeError("boom\nsecond line")
        except RuntimeError:
            import sys

            exc_info = sys.exc_info()
    rec = logging.LogRecord("faqbot.access", logging.WARNING, __file__, 1, message, args or
                            ("world",), exc_info)
    rec.__dict__.update(extra)
    return rec


def test_json_line_fields() -> None:
    line = JsonFormatter("replica-a").format(record())
    entry = json.loads(line)
    assert entry["message"] == "hello world" and entry["level"] == "WARNING"
    assert entry["logger"] == "faqbot.access" and entry["replica"] == "replica-a"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"])
    assert "request_id" not in entry and "exc" not in entry


def test_traceback_is_one_json_field_on_one_line() -> None:
    line = JsonFormatter("r").format(record(exc=True))
    assert "\n" not in line
    exc = json.loads(line)["exc"]
    assert exc.startswith("Traceback") and "RuntimeError: boom\nsecond line" in exc


def test_request_id_from_context_or_extra() -> None:
    formatter = JsonFormatter("r")
    token = REQUEST_ID.set("req-1")
    try:
        assert json.loads(formatter.format(record()))["request_id"] == "req-1"
        assert "[req-1]" in TextFormatter("r").format(record())
    finally:
        REQUEST_ID.reset(token)
    entry = json.loads(formatter.format(record(request_id="req-2", status=200)))
    assert entry["request_id"] == "req-2" and entry["status"] == 200


def test_text_line_has_time_level_replica() -> None:
    line = TextFormatter("box:8080").format(record())
    assert re.fullmatch(r"\S+Z WARNING faqbot\.access \[box:8080\] hello world", line)


def test_setup_logging_by_setting(restore_root: None) -> None:
    stream = io.StringIO()
    setup_logging("json", "r1", stream=stream)
    setup_logging("json", "r2", stream=stream)  # replaces, never doubles
    logging.getLogger("faqbot").info("ready")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["replica"] == "r2"
    with pytest.raises(ValueError):
        setup_logging("xml", "r")


def test_replica_label() -> None:
    assert replica_label("blue", 8081) == "blue"
    assert replica_label("", 8081).endswith(":8081")


def test_cli_commands_log_in_the_chosen_format(  # type: ignore[no-untyped-def]
    restore_root, tmp_path, capsys, monkeypatch
) -> None:
    from bot.cli import main

    monkeypatch.setenv("FAQBOT_LOG_FORMAT", "json")
    monkeypatch.setenv("FAQBOT_REPLICA_NAME", "cli-box")
    monkeypatch.setenv("FAQBOT_DATA_DIR", str(tmp_path))
    main(["staff", "list", "--db", f"sqlite:///{tmp_path / 'x.db'}"])  # fails: no such file
    capsys.readouterr()
    logging.getLogger("faqbot.test").warning("disk %s", "full")
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert json.loads(err)["replica"] == "cli-box" and json.loads(err)["message"] == "disk full"


def test_serve_writes_json_lines(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A real `faqbot serve` with log_format json: every stderr line is one JSON record."""
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    from tests.conftest import ROOT

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    env = {**os.environ, "FAQBOT_DATA_DIR": str(tmp_path), "FAQBOT_LOG_FORMAT": "json",
           "FAQBOT_REPLICA_NAME": "blue", "FAQBOT_ON_CALL_NUMBER": "555-0100"}
    server = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--port", str(port),
                               "--rate-limit", "0"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/messages", data=b'{"text": "hello"}',
            headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=10).close()
    finally:
        server.terminate()
        _, err = server.communicate(timeout=30)
    records = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert records, err
    assert all(r["replica"] == "blue" and r["time"].endswith("Z") for r in records)
    assert any(r["logger"] == "faqbot.access" for r in records)
    from bot.version import version

    assert any(r["message"].startswith(f"faqbot {version()} starting: database sqlite:///")
               for r in records)


def test_serve_hands_the_settings_staff_secret_to_the_console(  # type: ignore[no-untyped-def]
    tmp_path, monkeypatch
) -> None:
    """The console signs with the settings' staff_secret (file, environment or
    flag), read from the app's settings: no environment variable in between."""
    from bot.cli import main
    from bot.web.auth import Signer
    from bot.web.staff import SIGNER, setup_staff

    config = tmp_path / "faqbot.yaml"
    config.write_text("staff_secret: from-the-settings-file\non_call_number: none\n")
    monkeypatch.delenv("FAQBOT_STAFF_SECRET", raising=False)
    seen = []
    monkeypatch.setattr("bot.web.server.run", seen.append)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        assert main(["serve", "--config", str(config)]) == 0
    finally:
        root.handlers[:], root.level = handlers, level
    assert [s.staff_secret for s in seen] == ["from-the-settings-file"]
    assert "FAQBOT_STAFF_SECRET" not in os.environ

    from aiohttp import web

    from bot.web.keys import SETTINGS

    app = web.Application()
    app[SETTINGS] = seen[0]
    setup_staff(app)
    same = Signer(b"from-the-settings-file")
    assert app[SIGNER].csrf_token("session-1") == same.csrf_token("session-1")


def test_cli_in_process_leaves_no_handler_on_a_closed_stream(  # type: ignore[no-untyped-def]
    restore_root, capsys, tmp_path, monkeypatch
) -> None:
    """main() run in-process (as tests do) installs a handler; later records must not
    go to the stream that was sys.stderr then and is closed now."""
    import sys

    from bot.cli import main

    old = io.StringIO()
    monkeypatch.setattr(sys, "stderr", old)
    main(["purge", "--db", f"sqlite:///{tmp_path / 'none.db'}"])  # exits 2: no such file
    old.close()
    monkeypatch.setattr(sys, "stderr", now := io.StringIO())
    logging.getLogger("faqbot.test").warning("still logged")
    assert now.getvalue().rstrip().endswith(" still logged")
    assert "Logging error" not in now.getvalue()


async def test_each_request_has_an_id_in_its_logs_and_its_response(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    from aiohttp import web

    from bot.config import load_settings
    from bot.web.keys import METRICS, SETTINGS
    from bot.web.metrics import make_metrics
    from bot.web.middlewares import MIDDLEWARES

    async def handler(request: web.Request) -> web.Response:
        logging.getLogger("faqbot.test").warning("inside the handler")
        return web.json_response({"ok": True})

    app = web.Application(middlewares=MIDDLEWARES)
    app[SETTINGS] = load_settings(environ={})
    app[METRICS] = make_metrics()
    app.router.add_get("/api/probe", handler)
    stream = io.StringIO()
    handler_ = setup_logging("json", "replica-t", stream=stream)
    try:
        client = await aiohttp_client(app)
        given = await client.get("/api/probe", headers={"X-Request-Id": "nginx-0123456789abcdef"})
        made = await client.get("/api/probe", headers={"X-Request-Id": "bad id\u00e9 <script>"})
        missing = await client.get("/api/nothing-here")
    finally:
        logging.getLogger().removeHandler(handler_)
    assert given.headers["X-Request-Id"] == "nginx-0123456789abcdef"
    generated = made.headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert re.fullmatch(r"[0-9a-f]{32}", missing.headers["X-Request-Id"])
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    inside = [r for r in records if r["message"] == "inside the handler"]
    assert [r["request_id"] for r in inside] == ["nginx-0123456789abcdef", generated]
    access = [r for r in records if r["logger"] == "faqbot.access"]
    assert [(r["request_id"], r["method"], r["path"], r["status"]) for r in access[:2]] == [
        ("nginx-0123456789abcdef", "GET", "/api/probe", 200), (generated, "GET", "/api/probe", 200)]
    assert all(isinstance(r["ms"], float) for r in access)
    assert REQUEST_ID.get() is None
