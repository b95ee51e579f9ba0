"""Teaching the bot from the staff console: edit the native YAML corpus safely.

`add_alternate` adds a patient's phrasing to an existing entry; `add_entry`
appends a new entry to a procedure's file. Every edit is written atomically
(temporary file, then `os.replace`), the whole corpus is validated afterwards,
and on any error the old file content is put back and `ValueError` raised
with the problems, so a bad edit never leaves a corpus the server can't load.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    FoldedScalarString,
    LiteralScalarString,
)

from .corpus import SYNONYMS_FILE, read_corpus
from .domain import PROCEDURES
from .normalise import normalise
from .redact import redact


def _corpus_dir(corpus_dir: str | Path) -> Path:
    path = Path(corpus_dir)
    if not path.is_dir():
        raise ValueError(
            f"teaching needs a native corpus directory of YAML files; {path} is not a "
            "directory (an interchange .jsonl corpus can't be edited from the console)")
    return path


def _write_atomic(file: Path, text: str) -> None:
    handle, temp = tempfile.mkstemp(dir=file.parent, prefix=f".{file.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if file.exists():
            os.chmod(temp, file.stat().st_mode & 0o777)
        os.replace(temp, file)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _round_trip() -> YAML:
    # ruamel keeps the file as staff wrote it (folded answers, comments, order),
    # so a taught alternate is a one-line change in the file's history.
    handler = YAML()
    handler.width = 4096
    handler.indent(mapping=2, sequence=4, offset=2)
    return handler


def _dump(data: Any) -> str:
    buffer = io.StringIO()
    _round_trip().dump(data, buffer)
    return buffer.getvalue()


def _edit(corpus_dir: Path, file: Path, change: Callable[[dict[str, Any] | None], Any]) -> Path:
    """Apply `change` to the file's data, write it, validate, roll back on errors."""
    old_text = file.read_text(encoding="utf-8") if file.exists() else None
    data = _round_trip().load(old_text) if old_text is not None else None
    data = change(data)
    _write_atomic(file, _dump(data))
    corpus = read_corpus(corpus_dir)
    errors = [p for p in corpus.problems if p.severity == "error"]
    if errors:
        if old_text is None:
            file.unlink(missing_ok=True)
        else:
            _write_atomic(file, old_text)
        raise ValueError("the corpus would not load after this change:\n"
                         + "\n".join(str(p) for p in errors[:10]))
    return file


def _find_entry_file(corpus_dir: Path, entry_id: str) -> Path:
    for file in sorted(corpus_dir.glob("*.yaml")):
        if file.name == SYNONYMS_FILE:
            continue
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
        except (yaml.YAMLError, OSError, UnicodeDecodeError):
            continue
        if isinstance(data, dict) and isinstance(data.get("entries"), list):
            if any(isinstance(e, dict) and e.get("id") == entry_id for e in data["entries"]):
                return file
    raise ValueError(f"no entry '{entry_id}' in {corpus_dir}")


MAX_QUESTION_CHARS = 300
MAX_ANSWER_CHARS = 2000
_MARKUP = re.compile(r"<[^>]*>|&[a-z]+;|&#\d+;", re.I)
REDACTED = re.compile(r"\[(?:NAME|PHONE|EMAIL|ADDRESS|ID|DATE|SSN|POSTCODE|PLACE|URL|IP)\]")
_LINK = re.compile(r"\b(?:https?:|javascript:|data:|vbscript:|www\.)|\]\(", re.I)


def checked(text: str, what: str, limit: int) -> str:
    """Staff text as it may go live: one line of plain words, no identifier.

    Patients see it at once, so markup and links are refused (sources keep
    their own URL field), and anything the redactor would change is refused:
    a patient's name must not end up in the corpus, which no purge reaches.
    """
    text = " ".join(str(text).split()) if what != "answer" else str(text).strip()
    if not normalise(text):
        raise ValueError(f"the {what} is empty")
    if len(text) > limit:
        raise ValueError(f"the {what} is longer than {limit} characters")
    if _MARKUP.search(text) or _LINK.search(text):
        raise ValueError(f"the {what} may not contain markup or links")
    if redact(text) != text:
        raise ValueError(f"the {what} still holds an identifier ({redact(text)}); "
                         "remove it first")
    label = REDACTED.search(text)
    if label:
        raise ValueError(f"the {what} holds a redacted detail ({label.group(0)}); "
                         "reword it without")
    return text


def _string(value: str) -> str:
    """A scalar YAML would not read back as this same string ("yes", "1:30")
    is written quoted."""
    try:
        same = yaml.safe_load(value) == value
    except yaml.YAMLError:
        same = False
    return value if same else DoubleQuotedScalarString(value)


def block(text: str, width: int = 72) -> str:
    """A long answer as a YAML block, folded at spaces near `width` like the
    hand-written entries (`>-`); text with line breaks keeps them (`|-`)."""
    if "\n" in text:
        literal: str = LiteralScalarString(text)
        return literal
    folded = FoldedScalarString(text)
    positions, start = [], 0
    for i, char in enumerate(text):
        if char == " " and i - start >= width - 6 and i + 1 < len(text) and text[i + 1] != " ":
            positions.append(i)
            start = i + 1
    folded.fold_pos = positions
    result: str = folded
    return result


def add_alternate(corpus_dir: str | Path, entry_id: str, phrasing: str) -> Path:
    """Add `phrasing` to the alternates of entry `entry_id`; returns the edited file."""
    directory = _corpus_dir(corpus_dir)
    phrasing = checked(phrasing, "phrasing", MAX_QUESTION_CHARS)
    file = _find_entry_file(directory, entry_id)

    def change(data: Any) -> Any:
        for entry in data["entries"]:
            if isinstance(entry, dict) and entry.get("id") == entry_id:
                alternates = entry.get("alternates") or []
                if isinstance(alternates, str):
                    alternates = [alternates]
                known = {normalise(str(a)) for a in [entry.get("question", ""), *alternates]}
                if normalise(phrasing) in known:
                    raise ValueError(f"'{phrasing}' is already a phrasing of '{entry_id}'")
                had_alternates = "alternates" in entry
                entry["alternates"] = [*alternates, _string(phrasing)]
                if not had_alternates:
                    _reorder(entry)
                return data
        raise ValueError(f"no entry '{entry_id}' in {file.name}")

    return _edit(directory, file, change)


def add_entry(corpus_dir: str | Path, procedure: str, entry_dict: Mapping[str, Any]) -> Path:
    """Append a new entry to `<procedure>.yaml` (created if missing); returns the file."""
    directory = _corpus_dir(corpus_dir)
    if procedure not in PROCEDURES:
        raise ValueError(f"unknown procedure '{procedure}'; use one of {', '.join(PROCEDURES)}")
    file = directory / f"{procedure}.yaml"
    entry = {k: v for k, v in dict(entry_dict).items() if v not in (None, "", [])}
    if not entry.get("id"):
        raise ValueError("the new entry needs an id")

    def change(data: Any) -> Any:
        if data is None:
            data = {"procedure": procedure, "entries": []}
        if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
            raise ValueError(f"{file.name} has no 'entries' list")
        if data.get("procedure") != procedure:
            entry.setdefault("procedure", procedure)
        data["entries"].append(_reorder(dict(entry)))
        return data

    return _edit(directory, file, change)


_ORDER = ("id", "procedure", "topic", "question", "alternates", "answer", "follow_ups", "owner",
          "reviewed", "review_by", "sources")


def _reorder(entry: dict[str, Any]) -> dict[str, Any]:
    """Put fields in the documented order (unknown fields keep their place at the end)."""
    ordered = {k: entry[k] for k in _ORDER if k in entry}
    ordered.update({k: v for k, v in entry.items() if k not in ordered})
    entry.clear()
    entry.update(ordered)
    return entry


def new_entry_id(corpus_ids: set[str] | frozenset[str], procedure: str, question: str) -> str:
    """A readable unique id: `<procedure prefix>-staff-<first words>`."""
    prefix = procedure.split("-")[0][:8]
    words = "-".join(normalise(question).split()[:6]) or "entry"
    base = f"{prefix}-staff-{words}"[:80]
    candidate, n = base, 2
    while candidate in corpus_ids:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def a_year_after(today: dt.date) -> dt.date:
    try:
        return today.replace(year=today.year + 1)
    except ValueError:  # 29 February
        return today + dt.timedelta(days=365)


def staff_draft(question: str, answer: str, topic: str, alternates: list[str],
                today: dt.date | None = None, *, source_name: str = "Staff answer",
                source_url: str = "", review_by: dt.date | None = None) -> dict[str, Any]:
    """The fields of a staff-drafted entry (owner, review dates, source).

    The owner stays "Staff draft" once a clinician approves it: that marks the
    entry as waiting for its Spanish twin (`bot/spanish.py`)."""
    today = today or dt.date.today()
    review_by = review_by or a_year_after(today)
    return {
        "topic": topic,
        "question": _string(checked(question, "question", MAX_QUESTION_CHARS)),
        # The patient's own wording stays as an alternate even when the question
        # repeats it: the next patient is likely to type it the same way.
        # A patient's wording that held an identifier is left out, not taught.
        "alternates": [_string(checked(a, "phrasing", MAX_QUESTION_CHARS))
                       for a in alternates if normalise(a) and redact(a) == a
                       and not REDACTED.search(a)],
        "answer": block(checked(answer, "answer", MAX_ANSWER_CHARS)),
        "owner": "Staff draft",
        "reviewed": today,
        "review_by": review_by,
        "sources": [{"name": _string(" ".join(source_name.split()) or "Staff answer"),
                     "url": source_url.strip()}],
    }
