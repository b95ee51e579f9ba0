"""Loading and validating the FAQ corpus.

Two formats: the native directory of YAML files (one per procedure, plus
`synonyms.yaml`) and the interchange JSONL of CONTRACT.md. Every problem is
reported with its file and entry, and loading refuses a corpus with errors.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from .domain import PROCEDURES, TOPICS, FaqEntry, Source
from .normalise import PhraseMap, normalise

SYNONYMS_FILE = "synonyms.yaml"
# libyaml's safe loader when PyYAML was built with it: eight times faster at start-up.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_ANSWER_WORDS = 150
REQUIRED_NATIVE = ("id", "question", "answer", "topic", "sources", "reviewed")


@dataclass(frozen=True)
class Problem:
    file: str
    entry: str | None
    message: str
    severity: str = "error"  # or "warning"

    def __str__(self) -> str:
        where = f"{self.file}" + (f" [{self.entry}]" if self.entry else "")
        return f"{self.severity}: {where}: {self.message}"


class CorpusError(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        super().__init__(
            f"corpus has {len(errors)} error(s):\n" + "\n".join(str(p) for p in errors[:20])
        )


@dataclass(frozen=True)
class Lexicon:
    """Lay terms and abbreviations (`replace`) and the words naming each procedure."""

    replace: PhraseMap = field(default_factory=lambda: PhraseMap({}))
    procedure_terms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def canonical(self, text: str) -> str:
        return self.replace.apply(normalise(text))


@dataclass(frozen=True)
class Corpus:
    entries: tuple[FaqEntry, ...]
    lexicon: Lexicon
    source: str
    problems: tuple[Problem, ...] = ()

    @cached_property
    def by_id(self) -> dict[str, FaqEntry]:
        return {e.id: e for e in self.entries}

    @cached_property
    def version(self) -> str:
        """A short hash of every entry's content: which wording a patient saw."""
        digest = hashlib.sha256()
        for entry in sorted(self.entries, key=lambda e: e.id):
            digest.update(json.dumps(entry_to_json(entry), sort_keys=True).encode())
        return digest.hexdigest()[:12]


# ---------------------------------------------------------------- loading


def load_corpus(path: str | Path) -> Corpus:
    """Load a corpus directory or JSONL file; raise CorpusError on any error."""
    corpus = read_corpus(path)
    if any(p.severity == "error" for p in corpus.problems):
        raise CorpusError(list(corpus.problems))
    return corpus


def read_corpus(path: str | Path) -> Corpus:
    """Load what can be loaded and collect every problem found on the way."""
    path = Path(path)
    if path.is_dir():
        return _read_directory(path)
    if path.suffix == ".jsonl" and path.is_file():
        return _read_jsonl(path)
    problem = Problem(str(path), None, "not a corpus directory or .jsonl file")
    return Corpus((), Lexicon(), str(path), (problem,))


def _read_directory(directory: Path) -> Corpus:
    problems: list[Problem] = []
    entries: list[FaqEntry] = []
    for file in sorted(directory.glob("*.yaml")):
        if file.name == SYNONYMS_FILE:
            continue
        data, error = _load_yaml(file)
        if error:
            problems.append(error)
            continue
        entries.extend(_entries_from_native(file, data, problems))
    if not entries and not problems:
        problems.append(Problem(str(directory), None, "no *.yaml entry files found"))
    lexicon, lexicon_problems = read_lexicon(directory / SYNONYMS_FILE)
    problems.extend(lexicon_problems)
    problems.extend(check_entries(entries, native=True))
    return Corpus(tuple(entries), lexicon, str(directory), tuple(problems))


def _load_yaml(file: Path) -> tuple[Any, Problem | None]:
    try:
        with file.open(encoding="utf-8") as handle:
            return yaml.load(handle, Loader=_SafeLoader), None
    except yaml.YAMLError as exc:
        return None, Problem(str(file), None, f"YAML error: {exc}")
    except (OSError, UnicodeDecodeError) as exc:
        return None, Problem(str(file), None, f"cannot read: {exc}")


def _entries_from_native(file: Path, data: Any, problems: list[Problem]) -> list[FaqEntry]:
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        problems.append(Problem(str(file), None, "expected a mapping with an 'entries' list"))
        return []
    default_procedure = data.get("procedure")
    result = []
    for index, raw in enumerate(data["entries"]):
        label = raw.get("id") if isinstance(raw, dict) else None
        where = str(label) if label else f"entry #{index + 1}"
        if not isinstance(raw, dict):
            problems.append(Problem(str(file), where, "entry is not a mapping"))
            continue
        missing = [k for k in REQUIRED_NATIVE if raw.get(k) in (None, "", [])]
        if raw.get("procedure", default_procedure) in (None, ""):
            missing.append("procedure")
        if missing:
            problems.append(Problem(str(file), where, f"missing field(s): {', '.join(missing)}"))
            if "id" in missing or "question" in missing:
                continue
        try:
            result.append(_entry_from_mapping(raw, default_procedure, str(file)))
        except (TypeError, ValueError) as exc:
            problems.append(Problem(str(file), where, str(exc)))
    return result


def _entry_from_mapping(raw: Mapping[str, Any], default_procedure: Any, file: str) -> FaqEntry:
    def text(key: str) -> str:
        value = raw.get(key, "")
        if value is None:
            return ""
        if not isinstance(value, str | int | float):
            raise TypeError(f"'{key}' must be text, not {type(value).__name__}")
        return str(value).strip()

    def strings(key: str) -> tuple[str, ...]:
        value = raw.get(key) or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
            raise TypeError(f"'{key}' must be a list of strings")
        return tuple(str(v).strip() for v in value if str(v).strip())

    sources = []
    raw_sources = raw.get("sources") or []
    if not isinstance(raw_sources, list):
        raise TypeError("'sources' must be a list of {name, url}")
    for item in raw_sources:
        if isinstance(item, str):
            sources.append(Source(item))
        elif isinstance(item, dict) and item.get("name"):
            sources.append(Source(str(item["name"]), str(item.get("url") or "")))
        else:
            raise TypeError("each source needs a 'name' (and usually a 'url')")

    return FaqEntry(
        id=text("id"),
        question=text("question"),
        answer=text("answer"),
        procedure=(text("procedure") or (str(default_procedure) if default_procedure else None)),
        topic=text("topic") or None,
        alternates=strings("alternates"),
        follow_ups=strings("follow_ups"),
        sources=tuple(sources),
        owner=text("owner") or None,
        reviewed=_date(raw.get("reviewed"), "reviewed"),
        review_by=_date(raw.get("review_by"), "review_by"),
        file=file,
    )


def _date(value: Any, key: str) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"'{key}' must be a date like 2026-11-28, not {value!r}") from None


def _read_jsonl(file: Path) -> Corpus:
    problems: list[Problem] = []
    entries: list[FaqEntry] = []
    seen_ids: dict[str, int] = {}
    with file.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"line {number}"
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(Problem(str(file), where, f"invalid JSON: {exc.msg}"))
                continue
            if not isinstance(raw, dict):
                problems.append(Problem(str(file), where, "expected a JSON object"))
                continue
            missing = [k for k in ("id", "question") if not raw.get(k)]
            if "answer" not in raw:
                missing.append("answer")
            if missing:
                problems.append(
                    Problem(str(file), where, f"missing field(s): {', '.join(missing)}"))
                continue
            raw = dict(raw)
            if raw.get("source") or raw.get("url"):
                raw["sources"] = [{"name": raw.get("source") or raw.get("url"),
                                   "url": raw.get("url") or ""}]
            else:
                raw.pop("sources", None)
            raw.pop("follow_ups", None)
            for key in ("reviewed", "review_by"):
                raw.pop(key, None)
            raw["id"] = str(raw["id"])
            if raw["id"] in seen_ids:
                # Keep the entry searchable under a distinct id rather than lose it.
                seen_ids[raw["id"]] += 1
                new_id = f"{raw['id']}~{seen_ids[raw['id']]}"
                problems.append(Problem(str(file), where, f"duplicate id '{raw['id']}' "
                                        f"renamed '{new_id}'", "warning"))
                raw["id"] = new_id
            seen_ids.setdefault(raw["id"], 1)
            try:
                entries.append(_entry_from_mapping(raw, None, str(file)))
            except (TypeError, ValueError) as exc:
                problems.append(Problem(str(file), f"{where} [{raw.get('id')}]", str(exc)))
    problems.extend(check_entries(entries, native=False))
    lexicon, _ = read_lexicon(Path(__file__).resolve().parent.parent / "corpus" / SYNONYMS_FILE)
    return Corpus(tuple(entries), lexicon, str(file), tuple(problems))


def read_lexicon(file: Path) -> tuple[Lexicon, list[Problem]]:
    if not file.exists():
        return Lexicon(), []
    data, error = _load_yaml(file)
    if error:
        return Lexicon(), [error]
    if not isinstance(data, dict):
        return Lexicon(), [Problem(str(file), None, "expected a mapping")]
    problems = []
    replace = data.get("replace") or {}
    terms = data.get("procedures") or {}
    if not isinstance(replace, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in replace.items()
    ):
        problems.append(Problem(str(file), "replace", "must map lay terms to canonical words"))
        replace = {}
    clean_terms: dict[str, tuple[str, ...]] = {}
    if isinstance(terms, dict):
        for slug, words in terms.items():
            if slug not in PROCEDURES:
                problems.append(Problem(str(file), "procedures", f"unknown procedure '{slug}'"))
            elif not isinstance(words, list):
                problems.append(Problem(str(file), f"procedures.{slug}", "must be a list"))
            else:
                clean_terms[slug] = tuple(normalise(str(w)) for w in words if normalise(str(w)))
    else:
        problems.append(Problem(str(file), "procedures", "must map slugs to lists of words"))
    return Lexicon(PhraseMap(replace), clean_terms), problems


# ---------------------------------------------------------------- checks


def check_entries(
    entries: Iterable[FaqEntry], *, native: bool, today: dt.date | None = None
) -> list[Problem]:
    """Cross-entry checks: ids, slugs, follow-ups, answers, shared phrasings, review dates."""
    today = today or dt.date.today()
    entries = list(entries)
    problems: list[Problem] = []
    ids: dict[str, FaqEntry] = {}
    phrasing_owner: dict[str, str] = {}
    for entry in entries:
        file = entry.file or "?"

        def report(message: str, severity: str = "error", _e: FaqEntry = entry) -> None:
            problems.append(Problem(_e.file or "?", _e.id, message, severity))

        if entry.id in ids:
            report(f"duplicate id (also in {ids[entry.id].file})")
        ids[entry.id] = entry
        if entry.procedure is not None and entry.procedure not in PROCEDURES:
            report(f"unknown procedure slug '{entry.procedure}'")
        if entry.topic is not None and entry.topic not in TOPICS:
            report(f"unknown topic slug '{entry.topic}'")
        if native:
            words = len(entry.answer.split())
            if words == 0:
                report("empty answer")
            elif words > MAX_ANSWER_WORDS:
                report(f"answer has {words} words; the limit is {MAX_ANSWER_WORDS}")
            if entry.review_by and entry.review_by < today:
                report(f"past its review date ({entry.review_by})", "warning")
            if file.endswith(".yaml") and entry.procedure and Path(file).stem != entry.procedure:
                report(f"procedure '{entry.procedure}' in a file named {Path(file).name}",
                       "warning")
        seen_here: set[str] = set()
        for phrasing in entry.phrasings():
            key = normalise(phrasing)
            if not key or key in seen_here:
                continue
            seen_here.add(key)
            other = phrasing_owner.setdefault(key, entry.id)
            if other != entry.id:
                # An imported corpus may repeat a question; only ours must not.
                report(f"phrasing '{phrasing}' is also under entry '{other}'",
                       "error" if native else "warning")
    for entry in entries:
        for follow_up in entry.follow_ups:
            if follow_up not in ids:
                problems.append(Problem(entry.file or "?", entry.id,
                                        f"follow-up '{follow_up}' is not an entry id"))
    return problems


# ---------------------------------------------------------------- interchange


def entry_to_json(entry: FaqEntry) -> dict[str, Any]:
    """The interchange object of CONTRACT.md, plus the native fields a round trip keeps."""
    first = entry.sources[0] if entry.sources else Source("")
    return {
        "id": entry.id,
        "question": entry.question,
        "answer": entry.answer,
        "alternates": list(entry.alternates),
        "procedure": entry.procedure,
        "topic": entry.topic,
        "source": first.name,
        "url": first.url,
        "follow_ups": list(entry.follow_ups),
        "sources": [asdict(s) for s in entry.sources],
        "owner": entry.owner,
        "reviewed": entry.reviewed.isoformat() if entry.reviewed else None,
        "review_by": entry.review_by.isoformat() if entry.review_by else None,
    }


def entry_to_native(entry: FaqEntry) -> dict[str, Any]:
    """The YAML mapping staff edit, in the documented field order."""
    data: dict[str, Any] = {
        "id": entry.id,
        "topic": entry.topic,
        "question": entry.question,
        "alternates": list(entry.alternates),
        "answer": entry.answer,
        "follow_ups": list(entry.follow_ups),
        "owner": entry.owner,
        "reviewed": entry.reviewed,
        "review_by": entry.review_by,
        "sources": [asdict(s) for s in entry.sources],
    }
    return {k: v for k, v in data.items() if v not in (None, [])}
