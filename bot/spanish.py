"""The Spanish twins of the corpus: `corpus/es/<procedure>.yaml`.

Each twin carries the id of its English entry and its own question,
alternates, answer and sources; procedure, topic, follow-ups, owner and
review dates come from the English entry, so the two can never disagree on
what an entry is about. `check_twins` reports English entries without a twin
and twins whose facts drift (a number in one answer missing from the other).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from .corpus import Corpus, Problem, read_lexicon
from .domain import FaqEntry, Source

SPANISH_DIR = "es"
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def read_twins(directory: Path, english: Corpus) -> Corpus:
    """The Spanish corpus (problems collected, not raised)."""
    lexicon, problems = read_lexicon(directory / "synonyms.yaml")
    entries: list[FaqEntry] = []
    seen: set[str] = set()
    for file in sorted(directory.glob("*.yaml")):
        if file.name == "synonyms.yaml":
            continue
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(str(file), None, f"cannot read: {exc}"))
            continue
        for number, raw in enumerate(data.get("entries") or []):
            where = f"entry {number + 1}"
            twin = _twin(raw, english, str(file), where, problems)
            if twin is None:
                continue
            if twin.id in seen:
                problems.append(Problem(str(file), twin.id, "a second twin of the same entry"))
                continue
            seen.add(twin.id)
            entries.append(twin)
    return Corpus(tuple(entries), lexicon, str(directory), tuple(problems))


def _twin(raw: Any, english: Corpus, file: str, where: str,
          problems: list[Problem]) -> FaqEntry | None:
    if not isinstance(raw, dict) or not raw.get("id"):
        problems.append(Problem(file, where, "a twin needs the id of its English entry"))
        return None
    entry_id = str(raw["id"])
    original = english.by_id.get(entry_id)
    if original is None:
        problems.append(Problem(file, entry_id, "no English entry has this id"))
        return None
    question, answer = str(raw.get("question") or ""), str(raw.get("answer") or "")
    if not question.strip() or not answer.strip():
        problems.append(Problem(file, entry_id, "a twin needs a question and an answer"))
        return None
    sources = tuple(Source(str(s.get("name", "")), str(s.get("url", "")))
                    for s in raw.get("sources") or [] if isinstance(s, dict))
    return FaqEntry(
        id=entry_id, question=question.strip(), answer=" ".join(answer.split()),
        procedure=original.procedure, topic=original.topic,
        alternates=tuple(str(a) for a in raw.get("alternates") or []),
        follow_ups=original.follow_ups, sources=sources or original.sources,
        owner=original.owner, reviewed=original.reviewed, review_by=original.review_by,
        file=file)


def check_twins(english: Corpus, spanish: Corpus) -> list[Problem]:
    """Every English entry has a twin whose answer keeps the same numbers."""
    problems = list(spanish.problems)
    for entry in english.entries:
        twin = spanish.by_id.get(entry.id)
        if twin is None:
            # A staff draft waits for its twin (and Spanish speakers are told
            # the care team will follow up); any other entry must have one.
            severity = "warning" if entry.owner == "Staff draft" else "error"
            problems.append(Problem(entry.file or "?", entry.id,
                                    "no Spanish twin (corpus/es/)", severity))
            continue
        english_numbers = {n.replace(",", ".") for n in _NUMBER.findall(entry.answer)}
        spanish_numbers = {n.replace(",", ".") for n in _NUMBER.findall(twin.answer)}
        lost = english_numbers - spanish_numbers
        if lost:
            problems.append(Problem(twin.file or "?", entry.id,
                                    f"the Spanish answer drops {', '.join(sorted(lost))}"))
    return problems


def load_twins(corpus_dir: str | Path, english: Corpus) -> Corpus | None:
    directory = Path(corpus_dir) / SPANISH_DIR
    if not directory.is_dir():
        return None
    return read_twins(directory, english)
