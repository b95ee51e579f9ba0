"""bot.teach: edits to the YAML corpus are validated, atomic and rolled back on error."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml

from bot.corpus import load_corpus
from bot.teach import add_alternate, add_entry, new_entry_id, staff_draft

ROOT = Path(__file__).resolve().parent.parent
FILE = "vertebroplasty-kyphoplasty.yaml"


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", target)
    return target


def _entry(corpus_dir: Path, entry_id: str) -> dict:
    data = yaml.safe_load((corpus_dir / FILE).read_text(encoding="utf-8"))
    return next(e for e in data["entries"] if e["id"] == entry_id)


def test_add_alternate(corpus_dir):
    path = add_alternate(corpus_dir, "vert-recovery-walking", "can my cat sleep on the bed")
    assert path.name == FILE
    assert _entry(corpus_dir, "vert-recovery-walking")["alternates"][-1] == \
        "can my cat sleep on the bed"
    corpus = load_corpus(corpus_dir)
    assert "can my cat sleep on the bed" in corpus.by_id["vert-recovery-walking"].alternates
    assert not list(corpus_dir.glob(".*.tmp"))


def test_duplicate_of_another_entry_is_rejected_and_file_restored(corpus_dir):
    file = corpus_dir / FILE
    original = file.read_bytes()
    # "walking after kyphoplasty" is already an alternate of vert-recovery-walking.
    with pytest.raises(ValueError, match="also under entry"):
        add_alternate(corpus_dir, "vert-recovery-driving", "Walking after kyphoplasty!")
    assert file.read_bytes() == original
    assert not list(corpus_dir.glob(".*.tmp"))
    load_corpus(corpus_dir)


def test_duplicate_within_the_entry_is_rejected(corpus_dir):
    original = (corpus_dir / FILE).read_bytes()
    with pytest.raises(ValueError, match="already a phrasing"):
        add_alternate(corpus_dir, "vert-recovery-walking", "walking after kyphoplasty")
    assert (corpus_dir / FILE).read_bytes() == original


def test_unknown_entry_and_non_directory(corpus_dir, tmp_path):
    with pytest.raises(ValueError, match="no entry"):
        add_alternate(corpus_dir, "no-such-entry", "hello there")
    jsonl = tmp_path / "corpus.jsonl"
    jsonl.write_text("")
    with pytest.raises(ValueError, match="directory"):
        add_alternate(jsonl, "vert-recovery-walking", "hello there")
    with pytest.raises(ValueError, match="directory"):
        add_entry(jsonl, "general", {"id": "x"})


def test_add_entry_and_rollback(corpus_dir):
    today = dt.date(2026, 11, 28)
    entry = {"id": new_entry_id(set(), "general", "Can I bring my dog?"),
             **staff_draft("Can I bring my dog?", "Only trained service dogs.", "logistics",
                           ["can i bring my dog"], today=today)}
    path = add_entry(corpus_dir, "general", entry)
    assert path.name == "general.yaml"
    loaded = load_corpus(corpus_dir).by_id[entry["id"]]
    assert loaded.owner == "Staff draft" and loaded.review_by == dt.date(2027, 11, 28)
    assert loaded.sources[0].name == "Staff answer"

    original = (corpus_dir / "general.yaml").read_bytes()
    too_long = dict(entry, id="general-staff-too-long", question="A brand new question here?",
                    alternates=[], answer="word " * 200)
    with pytest.raises(ValueError, match="words"):
        add_entry(corpus_dir, "general", too_long)
    assert (corpus_dir / "general.yaml").read_bytes() == original
    with pytest.raises(ValueError, match="unknown procedure"):
        add_entry(corpus_dir, "knitting", entry)


@pytest.mark.parametrize(("text", "problem"), [
    ("hi this is john smith, can i drive", "identifier"),
    ("call me on 555-123-4567 about driving", "identifier"),
    ("when can [NAME] drive", "redacted"),
    ("<b>bold</b> question", "markup"),
    ("see javascript:alert(1)", "markup or links"),
    ("x" * 400, "longer than"),
    ("   ", "empty"),
])
def test_teaching_refuses_what_must_not_go_live(tmp_path, text: str, problem: str) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    before = {f.name: f.read_text() for f in corpus.glob("*.yaml")}
    with pytest.raises(ValueError, match=problem):
        add_alternate(corpus, "angio-recovery-driving", text)
    assert {f.name: f.read_text() for f in corpus.glob("*.yaml")} == before


def test_taught_strings_stay_strings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    draft = staff_draft("yes", "1:30", "logistics", ["no", "hi this is john smith"])
    add_entry(corpus, "general", {"id": "gen-staff-yes", **draft})
    raw = yaml.safe_load((corpus / "general.yaml").read_text())
    entry = raw["entries"][-1]
    assert entry["question"] == "yes" and entry["answer"] == "1:30"
    assert entry["alternates"] == ["no"]  # the patient's name never reaches the corpus
    assert load_corpus(corpus).by_id["gen-staff-yes"].answer == "1:30"
