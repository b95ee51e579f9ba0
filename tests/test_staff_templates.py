"""The staff console's pages come from autoescaped Jinja2 templates only."""

from __future__ import annotations

import re
from pathlib import Path

from bot.web.staff.render import environment

STAFF = Path(__file__).resolve().parent.parent / "bot" / "web" / "staff"
TAG = re.compile(r"</?(?:p|div|a|td|tr|th|table|span|form|input|h[1-6]|br|ul|li|bdi|main)\b[ >]")


def test_no_html_is_put_together_in_python() -> None:
    for path in STAFF.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert not TAG.search(source), f"{path.name} builds HTML; use a template"
        assert "escape(" not in source and "Markup(" not in source, path.name


def test_every_template_is_autoescaped_and_isolates_patient_text() -> None:
    env = environment()
    assert env.autoescape is True
    for path in (STAFF / "templates").glob("*.html"):
        assert "|safe" not in path.read_text(encoding="utf-8"), path.name
        assert "autoescape false" not in path.read_text(encoding="utf-8"), path.name
    macros = env.get_template("macros.html").module
    html = str(macros.patient("<b>hi</b> \u202eevil"))  # type: ignore[attr-defined]
    assert html == "<bdi>&lt;b&gt;hi&lt;/b&gt; evil</bdi>"


def test_console_times_are_the_clinics_with_the_zone_named() -> None:
    from bot.web.staff.render import clinic_time

    assert clinic_time("America/Chicago")("2026-11-30T15:05:00") == "2026-11-30 09:05 CST"
    assert clinic_time("America/Chicago")("2026-07-01T15:05:00") == "2026-07-01 10:05 CDT"
    assert clinic_time("UTC")("2026-11-30T15:05:00") == "2026-11-30 15:05 UTC"
    env = environment("Europe/Madrid")
    page = env.from_string('{% import "macros.html" as m %}{{ m.when("2026-11-30T15:05:00") }}')
    assert page.render() == '<time datetime="2026-11-30T15:05:00Z">2026-11-30 16:05 CET</time>'
