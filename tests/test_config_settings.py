"""One resolution of settings for every command (issue 23): defaults, the settings
file (--config or $FAQBOT_CONFIG), FAQBOT_<NAME>, then flags."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest

from bot.cli import build_parser
from bot.config import SETTINGS, load_settings, resolve_settings, settings_from_args

ROOT = Path(__file__).resolve().parent.parent


def test_order_is_defaults_file_environment_flags(tmp_path: Path) -> None:
    config = tmp_path / "faqbot.yaml"
    config.write_text("port: 9000\nretention_days: 30\nemergency_number: '112'\n")
    env = {"FAQBOT_CONFIG": str(config), "FAQBOT_PORT": "9001"}
    settings = resolve_settings(None, {"port": None}, env)
    assert (settings.port, settings.retention_days, settings.emergency_number) == (9001, 30, "112")
    assert settings.rate_limit == 30  # a default nobody set
    assert resolve_settings(None, {"port": 9002}, env).port == 9002


def test_config_flag_wins_over_faqbot_config(tmp_path: Path) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("retention_days: 10\n")
    b.write_text("retention_days: 20\n")
    assert resolve_settings(str(b), {}, {"FAQBOT_CONFIG": str(a)}).retention_days == 20
    assert resolve_settings(None, {}, {"FAQBOT_CONFIG": str(a)}).retention_days == 10


def test_an_empty_flag_is_refused_not_taken_for_the_default() -> None:
    # The documented cron line passed --db "$FAQBOT_DB" with the variable unset
    # and purged the default SQLite file.
    with pytest.raises(ValueError, match="--db was given an empty value"):
        resolve_settings(None, {"db": ""}, {})


def test_staff_secret_and_log_format_are_settings(tmp_path: Path) -> None:
    names = {s.name for s in SETTINGS}
    assert {"staff_secret", "log_format"} <= names
    config = tmp_path / "c.yaml"
    config.write_text("staff_secret: from-file\nlog_format: JSON\n")
    settings = load_settings(config, {})
    assert settings.staff_secret == "from-file" and settings.log_format == "json"
    assert load_settings(config, {"FAQBOT_STAFF_SECRET": "env"}).staff_secret == "env"
    with pytest.raises(ValueError, match="log_format"):
        load_settings(None, {"FAQBOT_LOG_FORMAT": "xml"})


COMMANDS = [
    ["serve"],
    ["staff", "add-user", "jo"],
    ["staff", "list"],
    ["review", "list"],
    ["review", "purge"],
    ["purge"],
    ["eval"],
    ["audit", "export"],
]


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_every_command_finds_the_services_database(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the one-box layout's FAQBOT_DATA_DIR, every command uses the same file."""
    monkeypatch.setenv("FAQBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("FAQBOT_DB", raising=False)
    monkeypatch.delenv("FAQBOT_CONFIG", raising=False)
    args = build_parser().parse_args(argv)
    assert settings_from_args(args).db_url == f"sqlite:///{tmp_path / 'data' / 'faqbot.db'}"
    monkeypatch.setenv("FAQBOT_DB", "postgresql://faqbot@db.internal/faqbot")
    assert settings_from_args(args).db_url == "postgresql://faqbot@db.internal/faqbot"


@pytest.mark.parametrize("argv", [a for a in COMMANDS if a != ["eval"]], ids=" ".join)
def test_every_store_command_takes_db_and_config(argv: list[str], tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"data_dir: {tmp_path / 'from-config'}\n")
    args = build_parser().parse_args([*argv, "--config", str(config)])
    assert settings_from_args(args).db_url.endswith("from-config/faqbot.db")
    args = build_parser().parse_args([*argv, "--config", str(config), "--db", "sqlite:///x.db"])
    assert settings_from_args(args).db_url == "sqlite:///x.db"


def test_commands_do_not_import_the_cli() -> None:
    """Issue 19: commands.py imported cli.py back for its settings helper."""
    tree = ast.parse((ROOT / "bot" / "commands.py").read_text())
    imported = {node.module for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module}
    assert "cli" not in imported and "bot.cli" not in imported


def test_serve_refuses_to_start_without_an_on_call_number(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    started: list[str] = []
    monkeypatch.setattr("bot.web.server.run", lambda settings: started.append(
        settings.on_call_number))
    for name in ("FAQBOT_ON_CALL_NUMBER", "FAQBOT_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        assert main(["serve"]) == 2
        assert "on_call_number: none" in capsys.readouterr().err and started == []
        monkeypatch.setenv("FAQBOT_ON_CALL_NUMBER", "none")
        assert main(["serve"]) == 0 and started == ["none"]
    finally:
        root.handlers[:], root.level = handlers, level


def test_on_call_none_gives_patients_no_number() -> None:
    from bot.assembly import bot_settings

    assert bot_settings(load_settings(environ={"FAQBOT_ON_CALL_NUMBER": "none"})
                        ).on_call_number == ""
    assert bot_settings(load_settings(environ={"FAQBOT_ON_CALL_NUMBER": "555-0100"})
                        ).on_call_number == "555-0100"


def test_office_hours_are_the_clinics_not_the_servers() -> None:
    import datetime as dt

    from bot.assembly import clinic_clock

    utc = dt.datetime.now(dt.UTC)
    for zone, hours in (("America/Chicago", {-6, -5}), ("Asia/Kolkata", {5.5})):
        local = clinic_clock(zone).now()
        offset = local.utcoffset()
        assert offset is not None and offset.total_seconds() / 3600 in hours
        assert abs((local - utc).total_seconds()) < 60  # the same moment, the clinic's wall time
    with pytest.raises(ValueError, match="clinic_timezone"):
        load_settings(environ={"FAQBOT_CLINIC_TIMEZONE": "Mars/Olympus"})
