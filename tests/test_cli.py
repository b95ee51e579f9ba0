"""The `faqbot` command as outside checks use it (CONTRACT.md), run as real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from bot.store import Store
from tests.conftest import ROOT
from tools.servers import free_port, wait_http

FAQBOT = [sys.executable, "-m", "bot.cli"]


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FAQBOT, *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, timeout=120, check=False)


def test_help_lists_every_command() -> None:
    result = run("--help")
    for command in ("serve", "ask", "search", "validate", "export", "import", "eval", "review",
                    "purge", "staff", "audit"):
        assert command in result.stdout
    serve = run("serve", "--help").stdout
    for option in ("--host", "--port", "--corpus", "--db", "--rate-limit", "--sessions"):
        assert option in serve
    # Every setting is documented where operators look for it.
    from bot.config import SETTINGS

    for setting in SETTINGS:
        assert setting.name in serve and setting.help.split()[0] in serve, setting.name


def test_ask_json_lines_share_one_session() -> None:
    result = run("ask", "--json", "-", stdin="what is kyphoplasty\nand when can i drive?\n")
    assert result.returncode == 0, result.stderr
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["session_id"] == second["session_id"]
    assert second["faq_id"] == "vert-recovery-driving"


def test_ask_new_session_per_line() -> None:
    result = run("ask", "--json", "--new-session-per-line", "-", stdin="hello\nhello\n")
    ids = [json.loads(line)["session_id"] for line in result.stdout.splitlines()]
    assert len(set(ids)) == 2


def test_ask_plain_text() -> None:
    result = run("ask", "crushing", "chest", "pain")
    assert result.returncode == 0 and result.stdout.startswith("[emergency]")


def test_search_json() -> None:
    result = run("search", "--k", "3", "--json", "-", stdin="stint in my leg\n")
    line = json.loads(result.stdout)
    assert line["query"] == "stint in my leg" and len(line["results"]) == 3
    assert line["results"][0]["score"] >= line["results"][1]["score"]


def test_search_on_medquad_jsonl() -> None:
    medquad = ROOT.parent / "shared" / "data" / "medquad.jsonl"
    if not medquad.exists():
        pytest.skip("shared MedQuAD data not present")
    result = run("search", "--corpus", str(medquad), "--json", "-",
                 stdin="what are the symptoms of glaucoma\n")
    assert result.returncode == 0, result.stderr
    results = json.loads(result.stdout)["results"]
    assert results and results[0]["faq_id"]


def test_validate_reports_and_fails(tmp_path: Path) -> None:
    (tmp_path / "general.yaml").write_text("entries: [broken\n")
    result = run("validate", "--corpus", str(tmp_path))
    assert result.returncode == 1 and "YAML error" in result.stderr


def test_bad_corpus_path_is_a_clear_error(tmp_path: Path) -> None:
    result = run("ask", "--corpus", str(tmp_path / "missing"), "hi")
    assert result.returncode == 2 and "not a corpus directory" in result.stderr


def test_killed_server_loses_no_acknowledged_ticket(tmp_path: Path) -> None:
    """The store commits before the reply is sent: SIGKILL right after the reply."""
    port = free_port()
    db = f"sqlite:///{tmp_path / 'kill.db'}"
    env = {**os.environ, "FAQBOT_DATA_DIR": str(tmp_path), "FAQBOT_ON_CALL_NUMBER": "none"}
    server = subprocess.Popen([*FAQBOT, "serve", "--port", str(port), "--db", db,
                               "--rate-limit", "0"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", 60, server)
        tickets = []
        for text in ("can I talk to a nurse", "what's the weather tomorrow",
                     "crushing chest pain"):
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/v1/messages",
                data=json.dumps({"text": text}).encode(),
                headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as response:
                tickets.append(json.loads(response.read())["ticket_id"])
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
    finally:
        if server.poll() is None:
            server.kill()
    store = Store(db)
    assert all(t and store.get_ticket(t) for t in tickets)
    result = run("review", "list", "--db", db, "--json")
    listed = {t["id"] for t in json.loads(result.stdout)}
    assert set(tickets) <= listed


def test_review_commands(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    store = Store(db)
    ticket = store.open_ticket(kind="fallback", session_id="s", message="parking?")
    assert ticket in run("review", "list", "--db", db).stdout
    shown = json.loads(run("review", "show", ticket, "--db", db).stdout)
    assert shown["message"] == "parking?"
    assert run("review", "resolve", ticket, "--db", db).returncode == 0
    assert store.get_ticket(ticket)["status"] == "resolved"
    assert json.loads(run("review", "list", "--db", db, "--status", "open", "--json").stdout) == []
    csv_out = run("review", "export", "--db", db).stdout
    assert csv_out.startswith("id,kind,status") and ticket in csv_out
    assert run("review", "purge", "--db", db, "--days", "0").returncode == 2  # needs --yes
    assert store.get_ticket(ticket) is not None
    assert run("review", "purge", "--db", db, "--days", "0", "--yes").returncode == 0
    assert run("review", "list", "--db", db, "--status", "nope").returncode == 2


def test_staff_add_user(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'u.db'}"
    assert run("staff", "add-user", "nurse", "--db", db, "--password-stdin",
               stdin="short\n").returncode == 1
    for weak in ("aaaaaaaaaaaa", " " * 12, "password1234", "nurse-is-my-name"):
        assert run("staff", "add-user", "nurse", "--db", db, "--password-stdin",
                   stdin=weak + "\n").returncode == 1, weak
    for bad_name in ("", "evil<script>", "Nurse Lee"):
        assert run("staff", "add-user", bad_name, "--db", db, "--password-stdin",
                   stdin="lantern-orbit-cactus-91\n").returncode == 1
    assert run("staff", "add-user", "nurse", "--db", db, "--password-stdin",
               stdin="lantern-orbit-cactus-91\n").returncode == 0
    stored = Store(db).password_hash("nurse")
    assert stored and stored.startswith("$argon2") and "lantern" not in stored
    assert run("staff", "remove-user", "nurse", "--db", db).returncode == 0
    assert Store(db).password_hash("nurse") is None
    assert run("staff", "remove-user", "nurse", "--db", db).returncode == 1
