"""Import a QnA-Maker-style TSV or CSV (Question, Answer, Source, Metadata) as YAML entries.

Rows with the same answer become one entry whose first question is the
`question` and the rest are `alternates`, as those services export them.
Metadata such as `topic:recovery|procedure:...` sets the topic when present.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path
from typing import Any

import yaml

from .domain import PROCEDURES, TOPICS


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48] or "entry"


def _read_rows(path: Path) -> list[dict[str, str]]:
    text = path.read_text(encoding="utf-8-sig")
    dialect = "excel-tab" if path.suffix.lower() in (".tsv", ".txt") or "\t" in text.split(
        "\n", 1)[0] else "excel"
    reader = csv.DictReader(text.splitlines(), dialect=dialect)
    if not reader.fieldnames:
        raise ValueError(f"{path}: empty file")
    columns = {name.strip().lower(): name for name in reader.fieldnames}
    for needed in ("question", "answer"):
        if needed not in columns:
            raise ValueError(f"{path}: no '{needed}' column (found: {', '.join(columns)})")
    rows = []
    for row in reader:
        rows.append({key: (row.get(original) or "").strip() for key, original in columns.items()})
    return rows


def import_qna(path: Path, out: Path, *, procedure: str, topic: str = "overview") -> int:
    if procedure not in PROCEDURES:
        raise ValueError(f"unknown procedure '{procedure}'; use one of {', '.join(PROCEDURES)}")
    if topic not in TOPICS:
        raise ValueError(f"unknown topic '{topic}'; use one of {', '.join(TOPICS)}")
    grouped: dict[str, dict[str, Any]] = {}
    for number, row in enumerate(_read_rows(path), start=2):
        question, answer = row.get("question", ""), row.get("answer", "")
        if not question or not answer:
            raise ValueError(f"{path}: line {number}: question and answer are both required")
        entry = grouped.get(answer)
        if entry is None:
            meta = dict(
                part.split(":", 1) for part in row.get("metadata", "").split("|") if ":" in part
            )
            entry_topic = meta.get("topic", topic).strip()
            source = row.get("source", "") or "Imported FAQ"
            today = dt.date.today()
            entry = {
                "id": f"{procedure}-import-{_slug(question)}",
                "topic": entry_topic if entry_topic in TOPICS else topic,
                "question": question,
                "alternates": [],
                "answer": answer,
                "owner": "Imported: assign an owner",
                "reviewed": today,
                "review_by": today.replace(year=today.year + 1),
                "sources": [{"name": source, "url": source if source.startswith("http") else ""}],
            }
            grouped[answer] = entry
        elif question != entry["question"] and question not in entry["alternates"]:
            entry["alternates"].append(question)
    entries = list(grouped.values())
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as handle:
        yaml.safe_dump({"procedure": procedure, "entries": entries}, handle, sort_keys=False,
                       allow_unicode=True, width=100)
    return len(entries)
