"""Profiles of the 47k index build and of 1000 queries on it, with pyinstrument.

    .venv/bin/python bench/profile_retrieval.py   # writes bench/profile/*.txt, summary.json

Not part of `make bench` (it repeats the 47k build under a
profiler); run_all.py reads bench/profile/summary.json when it exists.
Needs `pip install pyinstrument`.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from retrieval import DATA, SEED, perturb, read_questions  # noqa: E402

OUT = HERE / "profile"
QUERIES = 1000


def _top(session, limit: int = 12) -> list[dict]:
    """Functions by own time ("self"), summed over the call tree."""
    totals: dict[tuple[str, str], dict] = {}

    def walk(frame) -> None:
        key = (frame.function, f"{Path(frame.file_path or '?').name}:{frame.line_no}")
        entry = totals.setdefault(key, {"function": key[0], "where": key[1],
                                        "self_s": 0.0, "total_s": 0.0})
        entry["self_s"] += frame.total_self_time
        for child in frame.children:
            walk(child)

    def walk_total(frame, seen: frozenset) -> None:
        key = (frame.function, f"{Path(frame.file_path or '?').name}:{frame.line_no}")
        if key not in seen:  # recursion counts once
            totals[key]["total_s"] += frame.time
        for child in frame.children:
            walk_total(child, seen | {key})

    root = session.root_frame()
    walk(root)
    walk_total(root, frozenset())
    ranked = sorted(totals.values(), key=lambda e: e["self_s"], reverse=True)
    return [e for e in ranked if e["function"] not in ("[self]", "[await]")][:limit]


def _cumulative(session, names: tuple[str, ...]) -> dict[str, float]:
    """Inclusive time of a few functions of interest."""
    found = dict.fromkeys(names, 0.0)

    def walk(frame, inside: frozenset) -> None:
        name = frame.function
        if name in found and name not in inside:
            found[name] += frame.time
            inside = inside | {name}
        for child in frame.children:
            walk(child, inside)

    walk(session.root_frame(), frozenset())
    return found


def main() -> None:
    from pyinstrument import Profiler

    from bot.analysis import Analyzer
    from bot.corpus import load_corpus
    from bot.retriever import Retriever

    OUT.mkdir(exist_ok=True)
    summary: dict = {"interval_s": 0.001}

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "medquad.jsonl"
        path.write_text(DATA.read_text(encoding="utf-8"), encoding="utf-8")
        profiler = Profiler(interval=0.001)
        started = time.perf_counter()
        profiler.start()
        corpus = load_corpus(path)
        analyzer = Analyzer(corpus.lexicon,
                            [t for e in corpus.entries for t in (*e.phrasings(), e.answer)])
        retriever = Retriever(analyzer).fit(corpus.entries)
        profiler.stop()
    summary["build"] = {
        "wall_s": time.perf_counter() - started, "entries": len(corpus.entries),
        "top_self": _top(profiler.last_session),
        "inclusive": _cumulative(profiler.last_session, (
            "load_corpus", "__init__", "fit", "prepare", "canonical", "apply", "normalise",
            "correct", "fit_transform", "transform", "check_entries", "_strip_stop_words")),
    }
    (OUT / "build.txt").write_text(profiler.output_text(unicode=True, show_all=False))

    questions = read_questions(0)
    rng = random.Random(SEED + 1)
    queries = [perturb(questions[i], rng) for i in rng.sample(range(len(questions)), QUERIES)]
    for q in queries[:10]:
        retriever.search(q, 5)
    queries = queries[10:] + [perturb(questions[i], rng) for i in range(10)]
    profiler = Profiler(interval=0.0002)
    started = time.perf_counter()
    profiler.start()
    for q in queries:
        retriever.search(q, 5)
    profiler.stop()
    summary["queries"] = {
        "wall_s": time.perf_counter() - started, "count": len(queries),
        "top_self": _top(profiler.last_session),
        "inclusive": _cumulative(profiler.last_session, (
            "search", "prepare", "canonical", "correct", "correct_word", "extract",
            "scores", "transform", "_dot", "todense", "__matmul__", "reduceat",
            "argpartition", "_strip_stop_words")),
    }
    (OUT / "queries.txt").write_text(profiler.output_text(unicode=True, show_all=False))
    (OUT / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
