"""What one `Bot.reply` costs, stage by stage, against the previous code in the same run.

    .venv/bin/python bench/reply_cost.py                       # against BASELINE_REF
    .venv/bin/python bench/reply_cost.py --baseline-ref HEAD~3 --rounds 5

Input: the blind patient messages of `tests/eval/split/train.yaml` (never the
sealed test split), each in a fresh session, so every reply runs the whole
path. The baseline is the previous implementation: the working tree's bot/,
corpus/ and intents/ copied to a temporary directory with issue 21's modules
(`ISSUE_FILES`) taken from `--baseline-ref`, so other people's changes to the
engine land on both sides (`--whole-tree` takes everything from the ref), and
measured by the same worker code. Baseline and current alternate, one
fresh process each per round, and the report gives medians over rounds and
current/baseline ratios, so the shared machine's noise hits both alike.

Two passes per process: the median per-message time of plain `Bot.reply`
(no instrumentation), then a pass with each stage's functions wrapped in
timers that subtract nested stages, giving the breakdown (red flags,
language, prepare, intents, redaction, retrieval, ranking, decision, record,
other). The wrappers cost about a microsecond per call; the headline median
comes from the uninstrumented pass. A bare function call per message is
timed too, as a floor for what Python can do per message here. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# The last commit before issue 21's per-message work.
BASELINE_REF = "58f54cc"
# The modules issue 21's per-message and 47k work changed.
ISSUE_FILES = ("bot/redact.py", "bot/retriever.py", "bot/spelling.py", "bot/normalise.py",
               "bot/intents.py", "bot/triage.py", "bot/index_cache.py")
STAGES = ("red_flags", "language", "prepare", "intents", "redaction", "retrieval",
          "ranking", "decision", "record", "other")


class StageTimer:
    """Exclusive time per stage: a stage's time excludes nested stages' time."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self._children = [0.0]

    def wrap(self, stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
        children = self._children
        totals = self.totals
        clock = time.perf_counter

        def timed(*args: Any, **kwargs: Any) -> Any:
            children.append(0.0)
            started = clock()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = clock() - started
                totals[stage] += elapsed - children.pop()
                children[-1] += elapsed

        return timed


def _instrument(bot: Any, timer: StageTimer) -> None:
    import bot.engine as engine

    def patch(owner: Any, name: str, stage: str) -> None:
        if hasattr(owner, name):
            setattr(owner, name, timer.wrap(stage, getattr(owner, name)))

    # The red-flag memo is bypassed: each message is new to a real server too.
    bot._red_flags_memo = timer.wrap("red_flags", bot._red_flags_of)
    patch(engine, "detect", "language")
    patch(engine, "redact", "redaction")
    patch(engine, "rerank", "retrieval")
    try:  # the shortlist moved to bot/candidates.py after the baseline
        import bot.candidates as candidates
    except ImportError:
        pass
    else:
        patch(candidates, "rerank", "retrieval")
    patch(engine, "decide_calibrated", "decision")
    index = bot._index
    patch(index.analyzer, "prepare", "prepare")
    patch(index.analyzer, "procedures_named", "prepare")
    patch(bot, "route", "intents")
    for name in ("search_prepared", "bm25", "components"):
        patch(index.retriever, name, "retrieval")
    patch(index.featurizer, "features", "ranking")
    patch(bot.ranker, "probabilities", "ranking")
    patch(bot, "_from_decision", "decision")
    for name in ("_finish", "_ticket"):
        patch(bot, name, "record")
    patch(bot._memory, "load", "record")


def _bare(text: str) -> int:
    return len(text)


def worker(tree: Path, passes: int) -> dict[str, Any]:
    """Measure in this process the bot found in `tree` (put first on sys.path)."""
    sys.path.insert(0, str(tree))
    import yaml

    from bot.assembly import build_bot
    from bot.config import load_settings
    from bot.engine import MemoryTickets

    split = ROOT / "tests" / "eval" / "split" / "train.yaml"
    messages = [q["q"] for q in yaml.safe_load(split.read_text())["questions"]]
    settings = load_settings(environ={"FAQBOT_INDEX_CACHE": "0"})
    bot = build_bot(settings, tickets=MemoryTickets())
    clock = time.perf_counter
    sessions = iter(range(10**9))
    for text in messages:  # warm-up: caches, lazy imports, lingua
        bot.reply(text, f"w{next(sessions)}")
    per_message: list[list[float]] = [[] for _ in messages]
    for _ in range(passes):
        for i, text in enumerate(messages):
            session = f"r{next(sessions)}"
            started = clock()
            bot.reply(text, session)
            per_message[i].append(clock() - started)
    medians = [statistics.median(times) * 1e3 for times in per_message]
    bare = []
    for _ in range(passes):
        started = clock()
        for text in messages:
            _bare(text)
        bare.append((clock() - started) / len(messages) * 1e6)
    timer = StageTimer()
    _instrument(bot, timer)
    whole = 0.0
    for _ in range(passes):
        for text in messages:
            session = f"i{next(sessions)}"
            started = clock()
            bot.reply(text, session)
            whole += clock() - started
    count = passes * len(messages)
    stages = {s: timer.totals.get(s, 0.0) / count * 1e6 for s in STAGES if s != "other"}
    stages["other"] = whole / count * 1e6 - sum(stages.values())
    return {"messages": len(messages), "median_ms": statistics.median(medians),
            "p90_ms": statistics.quantiles(medians, n=10)[-1],
            "mean_ms": statistics.fmean(medians), "bare_call_us": statistics.median(bare),
            "instrumented_mean_us": whole / count * 1e6, "stages_us": stages}


def _export(ref: str, into: Path, whole_tree: bool = False) -> None:
    """The code to measure as the baseline, unpacked into `into`."""
    if whole_tree:
        archive = subprocess.run(["git", "archive", ref, "bot", "corpus", "intents"],
                                 cwd=ROOT, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
        return
    for folder in ("bot", "corpus", "intents"):
        shutil.copytree(ROOT / folder, into / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    for name in ISSUE_FILES:
        old = subprocess.run(["git", "show", f"{ref}:{name}"], cwd=ROOT, check=True,
                             capture_output=True).stdout
        (into / name).write_bytes(old)


def _run(tree: Path, passes: int) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, "--worker", str(tree),
                           "--passes", str(passes)], cwd=ROOT, check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def compare(baseline_ref: str, rounds: int, passes: int,
            whole_tree: bool = False) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "current": []}
    with tempfile.TemporaryDirectory(prefix="reply-cost-") as scratch:
        old = Path(scratch)
        _export(baseline_ref, old, whole_tree)
        for _ in range(rounds):
            runs["baseline"].append(_run(old, passes))
            runs["current"].append(_run(ROOT, passes))

    def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "median_ms": statistics.median(r["median_ms"] for r in results),
            "p90_ms": statistics.median(r["p90_ms"] for r in results),
            "mean_ms": statistics.median(r["mean_ms"] for r in results),
            "bare_call_us": statistics.median(r["bare_call_us"] for r in results),
            "stages_us": {s: statistics.median(r["stages_us"][s] for r in results)
                          for s in STAGES},
            "per_round_median_ms": [round(r["median_ms"], 4) for r in results],
        }

    base, current = summary(runs["baseline"]), summary(runs["current"])
    ratios = {s: current["stages_us"][s] / base["stages_us"][s]
              if base["stages_us"][s] > 0 else None for s in STAGES}
    # Each round's current median over the same round's baseline median.
    paired = [c["median_ms"] / b["median_ms"]
              for b, c in zip(runs["baseline"], runs["current"], strict=True)]
    return {"baseline_ref": baseline_ref, "whole_tree": whole_tree, "rounds": rounds,
            "passes": passes,
            "messages": runs["current"][0]["messages"], "baseline": base, "current": current,
            "median_ratio": statistics.median(paired), "stage_ratios": ratios}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-ref", default=BASELINE_REF)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--whole-tree", action="store_true",
                        help="baseline: everything at --baseline-ref, not only ISSUE_FILES")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.passes)))
        return
    print(json.dumps(compare(args.baseline_ref, args.rounds, args.passes, args.whole_tree)))


if __name__ == "__main__":
    main()
