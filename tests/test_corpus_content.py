"""The bundled patient corpus: coverage, governance and readability."""

from __future__ import annotations

import statistics
from collections import Counter

import pytest
import textstat

from bot.corpus import load_corpus
from bot.domain import PROCEDURES
from tests.conftest import ROOT

CORPUS = load_corpus(ROOT / "corpus")
ENTRIES = CORPUS.entries


def test_at_least_220_entries_covering_every_procedure() -> None:
    assert len(ENTRIES) >= 220
    per_procedure = Counter(e.procedure for e in ENTRIES)
    assert set(per_procedure) == set(PROCEDURES)


@pytest.mark.parametrize("procedure", PROCEDURES)
def test_each_procedure_has_warning_signs_with_both_levels(procedure: str) -> None:
    warnings = [e for e in ENTRIES if e.procedure == procedure and e.topic == "warning-signs"]
    assert warnings
    assert any("911" in e.answer or "emergency" in e.answer.lower() for e in warnings)
    assert any("care team" in e.answer.lower() or "call your" in e.answer.lower()
               for e in warnings)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.id)
def test_governance_fields(entry) -> None:  # type: ignore[no-untyped-def]
    assert entry.sources and all(s.name for s in entry.sources)
    assert entry.reviewed and entry.review_by and entry.owner
    assert len(entry.alternates) >= 5
    assert len(entry.answer.split()) <= 150


def test_readability() -> None:
    grades = {e.id: textstat.flesch_kincaid_grade(e.answer) for e in ENTRIES}
    print(f"Flesch-Kincaid grade: median {statistics.median(grades.values()):.1f}, "
          f"max {max(grades.values()):.1f}")
    assert statistics.median(grades.values()) <= 8
    too_hard = {k: v for k, v in grades.items() if v > 10}
    assert not too_hard


def test_logistics_entries_point_to_staff() -> None:
    logistics = [e for e in ENTRIES if e.topic == "logistics"]
    assert logistics
    for entry in logistics:
        text = entry.answer.lower()
        assert any(w in text for w in ("staff", "team", "office", "coordinator", "call")), entry.id
