"""Operating the bot from the command line (issue 23): the service's database,
purge safeguards, staff accounts, the person acting in the audit log, exports.

In-process through `bot.cli.main` (quick); tests/test_cli.py runs the real
processes for the outer contract.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.store import Store, mask_url
from bot.version import version
from tests.conftest import fresh_pg_database

PASSWORD = "lantern-orbit-cactus-91"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("FAQBOT_DB", "FAQBOT_DATA_DIR", "FAQBOT_CONFIG", "SUDO_USER"):
        monkeypatch.delenv(name, raising=False)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:], root.level = handlers, level


def faqbot(capsys: pytest.CaptureFixture[str], *argv: str, stdin: str | None = None,
           monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[int, str, str]:
    if stdin is not None:
        assert monkeypatch is not None
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def add_user(capsys, monkeypatch, name: str, *extra: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    return faqbot(capsys, "staff", "add-user", name, "--password-stdin", *extra,
                  stdin=PASSWORD + "\n", monkeypatch=monkeypatch)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"faqbot {version()}"
    assert version()[0].isdigit()


def test_add_user_writes_where_the_service_reads(tmp_path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The one-box layout: FAQBOT_DATA_DIR=/srv/faqbot/data for the service and the admin."""
    monkeypatch.setenv("FAQBOT_DATA_DIR", str(tmp_path / "data"))
    code, out, _ = add_user(capsys, monkeypatch, "jo.smith")
    service_db = tmp_path / "data" / "faqbot.db"
    assert code == 0 and str(service_db) in out
    assert Store(f"sqlite:///{service_db}").password_hash("jo.smith")


def test_settings_file_from_faqbot_config(tmp_path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "faqbot.yaml"
    config.write_text(f"data_dir: {tmp_path / 'srv'}\n")
    monkeypatch.setenv("FAQBOT_CONFIG", str(config))
    assert add_user(capsys, monkeypatch, "jo.smith")[0] == 0
    assert Store(f"sqlite:///{tmp_path / 'srv' / 'faqbot.db'}").password_hash("jo.smith")


def seeded(tmp_path: Path) -> tuple[str, Store, str]:
    db = f"sqlite:///{tmp_path / 'p.db'}"
    store = Store(db)
    return db, store, store.open_ticket(kind="fallback", session_id="s", message="parking?")


def test_purge_days_zero_needs_yes(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    db, store, ticket = seeded(tmp_path)
    code, _, err = faqbot(capsys, "purge", "--db", db, "--days", "0")
    assert code == 2 and "--yes" in err and store.get_ticket(ticket)
    code, _, _ = faqbot(capsys, "review", "purge", "--db", db, "--days", "0")
    assert code == 2 and store.get_ticket(ticket)
    code, out, _ = faqbot(capsys, "purge", "--db", db, "--days", "0", "--yes")
    assert code == 0 and store.get_ticket(ticket) is None
    assert out.strip() == f"purged 1 ticket(s) older than 0 days from {db}"
    assert faqbot(capsys, "purge", "--db", db, "--days", "-1", "--yes")[0] == 2


def test_purge_uses_faqbot_db_and_names_it(tmp_path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    db, store, _ = seeded(tmp_path)
    monkeypatch.setenv("FAQBOT_DB", db)
    code, out, _ = faqbot(capsys, "purge")
    assert code == 0 and out.strip() == f"purged 0 ticket(s) older than 90 days from {db}"
    entry = store.audit_entries()[0]
    assert entry["action"] == "purge" and "older than 90 days" in entry["detail"]


def test_purge_refuses_an_empty_db_flag_and_a_missing_file(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """The documented cron line, `--db "$FAQBOT_DB"` with nothing set, purged the wrong file."""
    code, _, err = faqbot(capsys, "purge", "--db", "")
    assert code == 2 and "--db was given an empty value" in err
    missing = tmp_path / "nowhere" / "faqbot.db"
    code, _, err = faqbot(capsys, "purge", "--db", f"sqlite:///{missing}")
    assert code == 2 and "no database at" in err and not missing.exists()


def test_purge_on_postgresql_masks_the_password(capsys) -> None:  # type: ignore[no-untyped-def]
    with fresh_pg_database() as url:
        with_password = url.replace("://postgres@", "://postgres:s3cret-pw@")
        assert with_password != url
        Store(with_password).close()
        code, out, _ = faqbot(capsys, "purge", "--db", with_password)
        assert code == 0, out
        assert "s3cret-pw" not in out and "postgres:***@" in out and url.rsplit("/")[-1] in out


def test_mask_url() -> None:
    assert mask_url("postgresql://u:pw@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert mask_url("sqlite:////srv/faqbot/data/faqbot.db") == "sqlite:////srv/faqbot/data/faqbot.db"


def test_staff_list_disable_enable_role_remove(tmp_path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    db = f"sqlite:///{tmp_path / 's.db'}"
    monkeypatch.setenv("FAQBOT_DB", db)
    assert add_user(capsys, monkeypatch, "jo.smith")[0] == 0
    assert add_user(capsys, monkeypatch, "ann.lee", "--role", "admin")[0] == 0
    store = Store(db)
    token = store.start_staff_session("jo.smith")
    listed = json.loads(faqbot(capsys, "staff", "list", "--json")[1])
    assert [(u["username"], u["role"], u["disabled"], u["sessions"]) for u in listed] == [
        ("ann.lee", "admin", False, 0), ("jo.smith", "staff", False, 1)]

    code, out, _ = faqbot(capsys, "staff", "disable", "jo.smith")
    assert code == 0 and "sessions are ended" in out
    assert store.staff_session_user(token, idle=3600, absolute=3600) is None
    assert store.password_hash("jo.smith") is None  # sign-in checks against nothing
    assert "disabled" in faqbot(capsys, "staff", "list")[1]
    assert faqbot(capsys, "staff", "enable", "jo.smith")[0] == 0
    assert store.password_hash("jo.smith")

    assert faqbot(capsys, "staff", "role", "jo.smith", "admin")[0] == 0
    assert store.user_role("jo.smith") == "admin"
    with pytest.raises(SystemExit):
        main(["staff", "role", "jo.smith", "root"])
    capsys.readouterr()
    # Setting a password again keeps the role unless --role is given.
    assert add_user(capsys, monkeypatch, "jo.smith")[0] == 0
    assert store.user_role("jo.smith") == "admin"

    assert faqbot(capsys, "staff", "remove", "jo.smith")[0] == 0
    assert faqbot(capsys, "staff", "remove-user", "ann.lee")[0] == 0
    for command in ("disable", "enable", "remove"):
        code, _, err = faqbot(capsys, "staff", command, "jo.smith")
        assert code == 1 and "no staff user" in err
    assert store.list_users() == []


def test_the_person_acting_is_audited(tmp_path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    db = f"sqlite:///{tmp_path / 'a.db'}"
    monkeypatch.setenv("FAQBOT_DB", db)
    monkeypatch.setattr("getpass.getuser", lambda: "faqbot")
    monkeypatch.setenv("SUDO_USER", "alice")
    add_user(capsys, monkeypatch, "jo.smith")
    faqbot(capsys, "staff", "disable", "jo.smith", "--actor", "dr.bob")
    monkeypatch.delenv("SUDO_USER")
    faqbot(capsys, "staff", "enable", "jo.smith")
    entries = list(Store(db).audit_export())
    assert [(e["username"], e["action"]) for e in entries] == [
        ("alice", "add-user"), ("dr.bob", "disable-user"), ("faqbot", "enable-user")]
    assert all("cli, os user faqbot" in e["detail"] for e in entries)
    assert all(e["username"] != "cli" for e in entries)


def test_review_resolve_and_export_are_audited(tmp_path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    db, store, ticket = seeded(tmp_path)
    store.open_ticket(kind="fallback", session_id="s2", message="=HYPERLINK(\"http://x\")")
    monkeypatch.setattr("getpass.getuser", lambda: "carol")
    assert faqbot(capsys, "review", "resolve", ticket, "--db", db)[0] == 0
    assert store.get_ticket(ticket)["handled_by"] == "carol"
    code, out, _ = faqbot(capsys, "review", "export", "--db", db)
    assert code == 0
    cells = [row["message"] for row in csv.DictReader(io.StringIO(out))]
    assert "'=HYPERLINK(\"http://x\")" in cells  # not run as a formula by a spreadsheet
    latest = store.audit_entries()[0]
    assert (latest["username"], latest["action"]) == ("carol", "export")
    assert "2 tickets as csv" in latest["detail"]


def test_audit_export(tmp_path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    db, store, ticket = seeded(tmp_path)
    store.audit("jo.smith", "view", ticket)
    store.audit("jo.smith", "reply", ticket, "-1 please call us")
    code, out, _ = faqbot(capsys, "audit", "export", "--db", db)
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["action"] for r in rows] == ["view", "reply"]
    assert set(rows[0]) == {"id", "at", "username", "action", "ticket_id", "detail"}

    code, out, _ = faqbot(capsys, "audit", "export", "--db", db, "--format", "csv")
    table = list(csv.DictReader(io.StringIO(out)))
    assert [r["action"] for r in table] == ["view", "reply", "audit-export"]
    assert table[1]["detail"] == "'-1 please call us"

    assert faqbot(capsys, "audit", "export", "--db", db, "--since", "2999-01-01")[1] == ""
    since_now = faqbot(capsys, "audit", "export", "--db", db, "--since", "2000-01-01T00:00Z")[1]
    assert len(since_now.splitlines()) == 5  # view, reply and the three exports so far
    code, _, err = faqbot(capsys, "audit", "export", "--db", db, "--since", "last week")
    assert code == 2 and "--since" in err


def test_review_list_names_its_database(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    db, _, ticket = seeded(tmp_path)
    code, out, _ = faqbot(capsys, "review", "list", "--db", db)
    assert code == 0 and ticket in out and out.rstrip().endswith(f"1 ticket(s) in {db}")
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"  # a new install: an empty list, not an error
    code, out, _ = faqbot(capsys, "review", "list", "--db", fresh, "--json")
    assert code == 0 and out.strip() == "[]"
