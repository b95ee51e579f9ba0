"""Spanish twins: every entry has one, facts do not drift, export and answers in Spanish."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from bot.assembly import build_bot
from bot.config import load_settings
from bot.engine import MemoryTickets
from bot.language import detect
from tests.conftest import ROOT
from tests.test_cli import run


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", target)
    return target


def _edit_twins(corpus: Path, name: str, change) -> None:  # type: ignore[no-untyped-def]
    path = corpus / "es" / name
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data["entries"])
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_the_bundled_twins_are_complete() -> None:
    result = run("validate")
    assert result.returncode == 0, result.stderr
    assert "482 Spanish twins" in result.stdout or "Spanish twins" in result.stdout


def test_a_missing_twin_fails_validation(corpus_copy: Path) -> None:
    _edit_twins(corpus_copy, "vertebroplasty-kyphoplasty.yaml", lambda entries: entries.pop(0))
    result = run("validate", "--corpus", str(corpus_copy))
    assert result.returncode == 1 and "no Spanish twin" in result.stderr


def test_a_drifting_number_fails_validation(corpus_copy: Path) -> None:
    def drift(entries):  # type: ignore[no-untyped-def]
        for entry in entries:
            if entry["id"] == "vert-recovery-driving":
                entry["answer"] = "No maneje por un tiempo despues del procedimiento."
    _edit_twins(corpus_copy, "vertebroplasty-kyphoplasty.yaml", drift)
    result = run("validate", "--corpus", str(corpus_copy))
    assert result.returncode == 1 and "drops 24" in result.stderr


def test_export_in_spanish_names_each_english_twin() -> None:
    result = run("export", "--language", "es")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    english = {json.loads(line)["id"] for line in run("export").stdout.splitlines()}
    assert {line["english_id"] for line in lines} == english
    assert all(line["language"] == "es" and line["answer"] for line in lines)


@pytest.mark.parametrize(("text", "language"), [
    ("¿Puedo manejar despues de la cifoplastia?", "es"), ("cuando me puedo bañar", "es"),
    ("when can I drive after my stent", "en"), ("gracias", "es"), ("see ya", "en"),
])
def test_language_detection(text: str, language: str) -> None:
    assert detect(text) == language


def test_short_words_keep_the_session_language() -> None:
    assert detect("ok", "es") == "es" and detect("stent", "es") == "es"
    assert detect("ok", "en") == "en"


def test_spanish_questions_get_spanish_answers() -> None:
    bot = build_bot(load_settings(environ={}), tickets=MemoryTickets())
    first = bot.reply("¿Puedo manejar despues de la cifoplastia?", "es-a")
    assert first.type == "answer" and first.faq_id == "vert-recovery-driving"
    assert first.language == "es" and "maneje" in first.text
    follow = bot.reply("y me puedo bañar?", "es-a")
    assert follow.language == "es" and follow.type in ("answer", "clarify", "fallback")
    if follow.type == "answer":
        assert bot.corpus.by_id[follow.faq_id].procedure == "vertebroplasty-kyphoplasty"
    english = bot.reply("when can I drive after kyphoplasty", "en-a")
    assert english.language == "en" and english.faq_id == "vert-recovery-driving"
    assert english.text != first.text


def test_spanish_dev_floors() -> None:
    """What Spanish speakers receive on the blind Spanish dev split."""
    from bot.evaluation import run_evaluation
    from tests.conftest import TESTS

    report = run_evaluation(load_settings(environ={}), TESTS, ("es-dev",))
    figures = report.splits["es-dev"].figures()
    assert figures["replies_not_in_spanish"] == 0
    assert figures["correct_of_answerable"] >= 0.70
    assert figures["wrong_of_all"] <= 0.03
    assert figures["clarify_of_all"] <= 0.10
