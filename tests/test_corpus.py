"""Corpus loading and `faqbot validate`: each problem is caught and named."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.cli import main
from bot.corpus import load_corpus, read_corpus
from tests.conftest import ROOT

GOOD = """\
procedure: {procedure}
entries:
  - id: {id}
    topic: recovery
    question: When can I drive after my stent?
    alternates: [driving after stent]
    answer: Most people can drive after a few days. Follow your care team's advice.
    follow_ups: []
    reviewed: 2026-11-28
    review_by: 2099-01-01
    sources: [{{name: MedlinePlus, url: "https://medlineplus.gov/"}}]
"""


def write(directory: Path, name: str, text: str) -> None:
    (directory / name).write_text(textwrap.dedent(text), encoding="utf-8")


def problems(directory: Path) -> list[str]:
    return [str(p) for p in read_corpus(directory).problems if p.severity == "error"]


def test_good_corpus_has_no_problems(tmp_path: Path) -> None:
    write(tmp_path, "angioplasty-stenting.yaml",
          GOOD.format(procedure="angioplasty-stenting", id="a1"))
    assert problems(tmp_path) == []
    assert main(["validate", "--corpus", str(tmp_path)]) == 0


def test_yaml_error_names_the_file(tmp_path: Path) -> None:
    write(tmp_path, "general.yaml", "entries: [unclosed\n")
    found = problems(tmp_path)
    assert any("general.yaml" in p and "YAML error" in p for p in found)
    assert main(["validate", "--corpus", str(tmp_path)]) == 1


def test_missing_fields(tmp_path: Path) -> None:
    write(tmp_path, "general.yaml", "procedure: general\nentries:\n  - id: g1\n    question: q?\n")
    assert any("[g1]" in p and "missing field(s): answer, topic, sources, reviewed" in p
               for p in problems(tmp_path))


def test_duplicate_ids(tmp_path: Path) -> None:
    write(tmp_path, "general.yaml", GOOD.format(procedure="general", id="same"))
    text = GOOD.format(procedure="embolization", id="same").replace(
        "driving after stent", "driving after coils").replace("my stent", "my coils")
    write(tmp_path, "embolization.yaml", text)
    assert any("duplicate id" in p for p in problems(tmp_path))


def test_unknown_slugs(tmp_path: Path) -> None:
    write(tmp_path, "general.yaml",
          GOOD.format(procedure="heart-surgery", id="x").replace("topic: recovery", "topic: food"))
    found = problems(tmp_path)
    assert any("unknown procedure slug 'heart-surgery'" in p for p in found)
    assert any("unknown topic slug 'food'" in p for p in found)


def test_dangling_follow_up(tmp_path: Path) -> None:
    write(tmp_path, "general.yaml",
          GOOD.format(procedure="general", id="g").replace("follow_ups: []", "follow_ups: [nope]"))
    assert any("follow-up 'nope' is not an entry id" in p for p in problems(tmp_path))


@pytest.mark.parametrize(("answer", "message"), [('""', "empty answer"),
                                                  (" ".join(["word"] * 151), "151 words")])
def test_empty_or_long_answer(tmp_path: Path, answer: str, message: str) -> None:
    text = GOOD.format(procedure="general", id="g").replace(
        "answer: Most people can drive after a few days. Follow your care team's advice.",
        f"answer: {answer}")
    write(tmp_path, "general.yaml", text)
    assert any(message in p for p in problems(tmp_path))


def test_same_alternate_under_two_entries(tmp_path: Path) -> None:
    write(tmp_path, "general.yaml", GOOD.format(procedure="general", id="g1"))
    other = GOOD.format(procedure="embolization", id="e1").replace(
        "When can I drive after my stent?", "When can I drive after embolization?")
    write(tmp_path, "embolization.yaml", other)
    assert any("'driving after stent' is also under entry 'e1'" in p for p in problems(tmp_path))


def test_past_review_date_is_a_warning_not_an_error(tmp_path: Path) -> None:
    write(tmp_path, "general.yaml",
          GOOD.format(procedure="general", id="g").replace("2099-01-01", "2020-01-01"))
    corpus = read_corpus(tmp_path)
    assert [p.severity for p in corpus.problems] == ["warning"]
    assert "past its review date" in corpus.problems[0].message


def test_jsonl_interchange_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export"]) == 0
    lines = capsys.readouterr().out.splitlines()
    bundled = load_corpus(ROOT / "corpus")
    assert len(lines) == len(bundled.entries)
    first = json.loads(lines[0])
    assert {"id", "question", "answer", "alternates", "procedure", "topic", "source",
            "url"} <= set(first)
    exported = tmp_path / "corpus.jsonl"
    exported.write_text("\n".join(lines) + "\n", encoding="utf-8")
    again = load_corpus(exported)
    assert [e.id for e in again.entries] == [e.id for e in bundled.entries]
    assert again.by_id[first["id"]].procedure == first["procedure"]


def test_jsonl_needs_only_id_question_answer(tmp_path: Path) -> None:
    path = tmp_path / "mini.jsonl"
    path.write_text('{"id": "1", "question": "What is a stent?", "answer": ""}\n'
                    '{"id": "2", "question": "What is a biopsy?", "answer": "A sample."}\n')
    corpus = load_corpus(path)
    assert corpus.by_id["1"].procedure is None and corpus.by_id["2"].answer == "A sample."


def test_jsonl_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "1", "question": "q"}\nnot json\n')
    found = [str(p) for p in read_corpus(path).problems]
    assert any("line 1" in p and "answer" in p for p in found)
    assert any("line 2" in p and "invalid JSON" in p for p in found)


def test_import_qna_tsv(tmp_path: Path) -> None:
    tsv = tmp_path / "faq.tsv"
    tsv.write_text("Question\tAnswer\tSource\tMetadata\n"
                   "Where do I park?\tUse the visitor garage.\tEditorial\ttopic:logistics\n"
                   "Is there parking?\tUse the visitor garage.\tEditorial\t\n"
                   "Can I bring my kids?\tPlease arrange childcare.\thttps://example.org\t\n",
                   encoding="utf-8")
    out = tmp_path / "corpus" / "general.yaml"
    assert main(["import", str(tsv), "--procedure", "general", "--out", str(out)]) == 0
    corpus = load_corpus(out.parent)
    parking = next(e for e in corpus.entries if e.question == "Where do I park?")
    assert parking.alternates == ("Is there parking?",) and parking.topic == "logistics"
    assert len(corpus.entries) == 2


def test_bundled_corpus_validates() -> None:
    result = subprocess.run([sys.executable, "-m", "bot.cli", "validate"],
                            capture_output=True, text=True, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stderr
    assert "0 error(s)" in result.stdout


def test_review_by_dates_are_in_the_future() -> None:
    corpus = load_corpus(ROOT / "corpus")
    assert all(e.review_by and e.review_by > dt.date(2026, 11, 1) for e in corpus.entries)
