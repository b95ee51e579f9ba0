"""47k retrieval before and after issue 21, against bm25s, in one run.

    .venv/bin/python bench/retrieval_before_after.py              # 2 rounds, all 47,441
    .venv/bin/python bench/retrieval_before_after.py --rounds 3 --baseline-ref HEAD~5

Each round runs `bench/retrieval.py --one N` three times, each in a fresh
process: our retriever as it was at `--baseline-ref` (issue 21's modules from
that commit, the rest as it is now; see `reply_cost._export`), as it is now,
and bm25s, one after the other, so the three share the machine's load.
Reports per engine the median over rounds of build time, p50, mean per-query
time and hit@5 on the perturbed queries, and the ratios current/bm25s and
current/baseline. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from reply_cost import BASELINE_REF, _export  # noqa: E402

FIELDS = ("build_s", "load_s", "analyzer_s", "fit_s", "p50_ms", "p99_ms", "mean_ms", "qps",
          "question_at_5", "peak_rss_mib")


def _one(n: int, engine: str, tree: Path | None) -> dict[str, Any]:
    args = [sys.executable, str(HERE / "retrieval.py"), "--one", str(n), "--engine", engine]
    if tree is not None:
        args += ["--tree", str(tree)]
    done = subprocess.run(args, cwd=HERE.parent, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def compare(n: int, rounds: int, baseline_ref: str) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "current": [], "bm25s": []}
    with tempfile.TemporaryDirectory(prefix="retrieval-before-") as scratch:
        old = Path(scratch)
        _export(baseline_ref, old)
        for _ in range(rounds):
            runs["baseline"].append(_one(n, "faqbot", old))
            runs["current"].append(_one(n, "faqbot", None))
            runs["bm25s"].append(_one(n, "bm25s", None))
    summary = {name: {f: statistics.median(r[f] for r in results if f in r)
                      for f in FIELDS if any(f in r for r in results)}
               for name, results in runs.items()}
    # Per-query time as 1/qps (the whole loop's wall time over 300 queries):
    # each round's ratio, then the median, so both sides of a ratio share a load.
    def paired(a: str, b: str, field: str) -> float:
        return statistics.median(x[field] / y[field]
                                 for x, y in zip(runs[a], runs[b], strict=True))
    return {"n": runs["current"][0]["n"], "rounds": rounds, "baseline_ref": baseline_ref,
            "whole_tree": False,
            "summary": summary,
            "per_query_current_vs_bm25s": paired("current", "bm25s", "mean_ms"),
            "per_query_current_vs_baseline": paired("current", "baseline", "mean_ms"),
            "p50_current_vs_bm25s": paired("current", "bm25s", "p50_ms"),
            "build_current_vs_baseline": paired("current", "baseline", "build_s"),
            "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=0, help="corpus size (0: all 47,441)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline-ref", default=BASELINE_REF)
    args = parser.parse_args()
    print(json.dumps(compare(args.n, args.rounds, args.baseline_ref)))


if __name__ == "__main__":
    main()
