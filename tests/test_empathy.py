"""A warm sentence before the answer for fear, worry or pain, in the patient's language."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.empathy import Empathy
from tests.conftest import ROOT

FIXTURE = """\
en:
  - kind: fear
    patterns: ["(scared|worried)"]
    sentence: "That sounds worrying."
es:
  - kind: fear
    patterns: ["(miedo|preocupad[oa])"]
    sentence: "Es normal tener miedo."
"""


def test_cues_per_language_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "empathy.yaml"
    path.write_text(FIXTURE, encoding="utf-8")
    empathy = Empathy.from_file(path)
    assert empathy.sentence("I'm SCARED about tomorrow") == "That sounds worrying."
    assert empathy.sentence("when can I drive") is None
    assert empathy.sentence("tengo miedo", "es") == "Es normal tener miedo."
    assert empathy.sentence("tengo miedo", "en") is None
    path.write_text("en:\n  - kind: fear\n    patterns: [x]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="needs patterns and a sentence"):
        Empathy.from_file(path)


@pytest.mark.parametrize(("text", "language"), [
    ("I'm really scared about my kyphoplasty next week, I can't sleep. will it hurt?", "en"),
    ("tengo mucho miedo, me van a hacer una biopsia del higado, duele?", "es"),
])
def test_the_answer_follows_the_warm_sentence(fresh_bot, text: str, language: str) -> None:  # type: ignore[no-untyped-def]
    reply = fresh_bot.reply(text, f"warm-{language}")
    assert reply.language == language
    warm = fresh_bot.empathy.sentence(text, language)
    assert warm and reply.text.startswith(warm + " ")
    assert len(reply.text) > len(warm) + 20  # the facts still follow
    plain = fresh_bot.reply("will a kyphoplasty hurt?", "plain")
    assert not plain.text.startswith(fresh_bot.empathy.sentence("scared", "en"))


def test_an_emergency_keeps_its_own_words(fresh_bot) -> None:  # type: ignore[no-untyped-def]
    reply = fresh_bot.reply("I'm so scared, crushing chest pain and I can't breathe", "e")
    assert reply.type == "emergency"
    assert not reply.text.startswith(fresh_bot.empathy.sentence("scared", "en"))


def test_the_bundled_sentences_are_short_and_in_both_languages() -> None:
    empathy = Empathy.from_file(ROOT / "intents" / "empathy.yaml")
    assert set(empathy.feelings) == {"en", "es"}
    for feelings in empathy.feelings.values():
        assert all(len(f.sentence.split()) <= 20 for f in feelings)
