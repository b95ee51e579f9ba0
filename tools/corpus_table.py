"""Print the entries-per-procedure-and-topic table of docs/corpus.md.

Usage: .venv/bin/python tools/corpus_table.py [--write]
With --write, replaces the table between the markers in docs/corpus.md.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.corpus import load_corpus  # noqa: E402
from bot.domain import PROCEDURES, TOPICS  # noqa: E402

START, END = "<!-- table:start -->", "<!-- table:end -->"


def table() -> str:
    corpus = load_corpus(ROOT / "corpus")
    counts = Counter((e.procedure, e.topic) for e in corpus.entries)
    short = {t: t.replace("warning-signs", "warning").replace("alternatives", "altern.")
             for t in TOPICS}
    lines = ["| procedure | " + " | ".join(short[t] for t in TOPICS) + " | total |",
             "|---|" + "---:|" * (len(TOPICS) + 1)]
    for procedure in PROCEDURES:
        row = [counts[(procedure, t)] for t in TOPICS]
        lines.append(f"| {procedure} | " + " | ".join(str(n) for n in row) + f" | {sum(row)} |")
    totals = [sum(counts[(p, t)] for p in PROCEDURES) for t in TOPICS]
    lines.append("| **all** | " + " | ".join(str(n) for n in totals) +
                 f" | **{len(corpus.entries)}** |")
    return "\n".join(lines)


def main() -> None:
    text = table()
    if "--write" in sys.argv:
        doc = ROOT / "docs" / "corpus.md"
        content = doc.read_text(encoding="utf-8")
        before, rest = content.split(START, 1)
        _, after = rest.split(END, 1)
        doc.write_text(f"{before}{START}\n{text}\n{END}{after}", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
