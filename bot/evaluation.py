"""`faqbot eval`: how well the whole bot answers labelled patient messages.

Reads `tests/eval/*.yaml` (single questions with the expected entry),
`tests/eval/conversations.yaml` (multi-turn), and the sets under
`tests/data/` (emergency, not-emergency, out-of-scope, smalltalk, handoff).
Every question runs through the full engine in a fresh session; a plain BM25
(rank_bm25) over the same entries is the baseline.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from .assembly import build_bot
from .config import Settings
from .engine import Bot
from .normalise import normalise
from .policy import decide


@dataclass
class Report:
    figures: dict[str, float] = field(default_factory=dict)
    per_procedure: dict[str, tuple[int, int]] = field(default_factory=dict)
    misses: list[tuple[str, str, str, str]] = field(default_factory=list)
    safety_misses: list[tuple[str, str, str]] = field(default_factory=list)
    sweep: list[tuple[float, float, float]] = field(default_factory=list)

    def summary(self) -> str:
        lines = ["figure                          value"]
        lines += [f"{name:<30} {value:>6.3f}" for name, value in self.figures.items()]
        lines.append("\nper procedure (top-1 correct / questions):")
        lines += [f"  {p:<30} {ok:>3} / {n:<3} {ok / n:.2f}"
                  for p, (ok, n) in sorted(self.per_procedure.items())]
        if self.sweep:
            lines.append("\nanswer threshold sweep (threshold, answer rate, precision):")
            lines += [f"  {t:.2f}  {rate:.3f}  {share:.3f}" for t, rate, share in self.sweep]
        return "\n".join(lines)

    def markdown(self) -> str:
        out = ["# Evaluation report", "", "```", self.summary(), "```", "",
               "## Misses (question, expected, got, reply type)", ""]
        out += [f"- {q!r}: expected `{e}`, got `{g}` ({t})" for q, e, g, t in self.misses]
        out += ["", "## Safety and intent misses (set, message, got)", ""]
        out += [f"- {s}: {q!r} -> {t}" for s, q, t in self.safety_misses]
        return "\n".join(out) + "\n"


def _load(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def load_questions(eval_dir: Path) -> list[dict[str, str]]:
    items = []
    for file in sorted(eval_dir.glob("*.yaml")):
        if file.name == "conversations.yaml":
            continue
        for item in _load(file):
            items.append({"q": str(item["q"]), "expect": str(item["expect"])})
    return items


def bm25_top1(bot: Bot, items: list[dict[str, str]]) -> tuple[float, float]:
    from rank_bm25 import BM25Okapi

    entries = bot.corpus.entries
    documents = [normalise(" ".join(e.phrasings())).split() for e in entries]
    bm25 = BM25Okapi(documents)
    top1 = top3 = 0
    for item in items:
        scores = bm25.get_scores(normalise(item["q"]).split())
        ranked = sorted(range(len(entries)), key=lambda i: (-scores[i], i))[:3]
        ids = [entries[i].id for i in ranked]
        top1 += ids[0] == item["expect"]
        top3 += item["expect"] in ids
    return top1 / len(items), top3 / len(items)


def run_evaluation(settings: Settings, tests_dir: Path) -> Report:
    bot = build_bot(settings)
    report = Report()
    items = load_questions(tests_dir / "eval")
    entries = bot.corpus.by_id
    top1 = top3 = answered = answered_right = 0
    reciprocal: list[float] = []
    per_procedure: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for number, item in enumerate(items):
        reply = bot.reply(item["q"], f"eval-{number}")
        ranked = _ranked(bot, item["q"])
        expected = item["expect"]
        rank = ranked.index(expected) + 1 if expected in ranked else 0
        got = reply.faq_id or (reply.suggestions[0].faq_id if reply.suggestions else "")
        top1 += got == expected
        top3 += expected in [s.faq_id for s in reply.suggestions] or got == expected or (
            0 < rank <= 3)
        reciprocal.append(1 / rank if rank else 0.0)
        answered += reply.type == "answer"
        answered_right += reply.type == "answer" and reply.faq_id == expected
        procedure = entries[expected].procedure if expected in entries else "unknown"
        per_procedure[procedure or "none"][0] += got == expected
        per_procedure[procedure or "none"][1] += 1
        if got != expected:
            report.misses.append((item["q"], expected, got or "-", reply.type))
    n = len(items)
    bm_top1, bm_top3 = bm25_top1(bot, items)
    report.figures.update({
        "questions": n,
        "top1_accuracy": top1 / n,
        "top3_recall": top3 / n,
        "mrr": statistics.fmean(reciprocal),
        "answer_rate": answered / n,
        "answer_precision": answered_right / answered if answered else 0.0,
        "bm25_top1_accuracy": bm_top1,
        "bm25_top3_recall": bm_top3,
    })
    report.per_procedure = {p: (ok, total) for p, (ok, total) in per_procedure.items()}
    report.sweep = threshold_sweep(bot, items)
    _heldout(bot, tests_dir / "heldout" / "questions.yaml", report)
    _safety_sets(bot, tests_dir / "data", report)
    _conversations(bot, tests_dir / "eval" / "conversations.yaml", report)
    return report


def threshold_sweep(
    bot: Bot, items: list[dict[str, str]], thresholds: tuple[float, ...] = (
        0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65)
) -> list[tuple[float, float, float]]:
    """Answer rate and precision if the answer threshold were each value.

    The risky threshold moves with it, keeping the configured gap, and the
    clarify margin stays as configured; intents are left out.
    """
    base = bot.settings.thresholds
    entries = bot.corpus.by_id
    ranked = [(item["expect"], bot.rank(item["q"]), bot.analyzer.prepare(item["q"]))
              for item in items]
    rows = []
    for threshold in thresholds:
        trial = replace(base, answer=threshold,
                        risky_answer=min(1.0, threshold + base.risky_answer - base.answer))
        answered = right = 0
        for expected, matches, prepared in ranked:
            decision = decide(matches, entries, trial,
                              partial(bot.retriever.shares_content, prepared),
                              procedure_known=bool(bot.analyzer.procedures_named(prepared)))
            if decision.type == "answer" and decision.match:
                answered += 1
                right += decision.match.faq_id == expected
        rows.append((threshold, answered / len(items), right / answered if answered else 0.0))
    return rows


def _ranked(bot: Bot, question: str) -> list[str]:
    return [m.faq_id for m in bot.rank(question)]


def _heldout(bot: Bot, path: Path, report: Report) -> None:
    """Questions nobody tuned on: answerable ones (`expect` an id) and ones the
    corpus does not cover (`expect: null`), reported apart from the main set."""
    if not path.exists():
        return
    items = _load(path)
    answerable = [i for i in items if i.get("expect")]
    uncovered = [i for i in items if not i.get("expect")]
    right = answered = answered_right = declined = 0
    for number, item in enumerate(answerable):
        reply = bot.reply(str(item["q"]), f"heldout-{number}")
        got = reply.faq_id or (reply.suggestions[0].faq_id if reply.suggestions else "")
        right += got == item["expect"]
        answered += reply.type == "answer"
        answered_right += reply.type == "answer" and reply.faq_id == item["expect"]
        if got != item["expect"]:
            report.misses.append((f"[held-out] {item['q']}", item["expect"], got or "-",
                                  reply.type))
    for number, item in enumerate(uncovered):
        reply = bot.reply(str(item["q"]), f"heldout-none-{number}")
        declined += reply.type != "answer"
        if reply.type == "answer":
            report.safety_misses.append(("held-out, not covered", str(item["q"]),
                                         reply.faq_id or reply.type))
    if answerable:
        report.figures["heldout_questions"] = len(answerable)
        report.figures["heldout_top1_accuracy"] = right / len(answerable)
        report.figures["heldout_answer_precision"] = (
            answered_right / answered if answered else 0.0)
    if uncovered:
        report.figures["heldout_uncovered_declined"] = declined / len(uncovered)


def _safety_sets(bot: Bot, data_dir: Path, report: Report) -> None:
    def replies(texts: list[str], prefix: str) -> list[tuple[str, str]]:
        return [(t, bot.reply(t, f"{prefix}-{i}").type) for i, t in enumerate(texts)]

    emergency = [e["text"] for e in _load(data_dir / "emergency.yaml")]
    got = replies(emergency, "em")
    report.figures["emergency_recall"] = _share(got, {"emergency"})
    report.safety_misses += [("emergency", t, k) for t, k in got if k != "emergency"]

    calm = _load(data_dir / "not_emergency.yaml")
    got = replies(calm, "calm")
    report.figures["false_emergency_rate"] = 1 - _share(got, {"answer", "clarify", "fallback",
                                                              "handoff", "smalltalk"})
    report.safety_misses += [("not-emergency", t, k) for t, k in got if k == "emergency"]

    scope = _load(data_dir / "out_of_scope.yaml")
    got = replies(scope, "oos")
    # A fallback or handoff is right; an emergency reply is safe but not counted.
    report.figures["out_of_scope_declined"] = _share(got, {"fallback", "handoff", "emergency"})
    report.safety_misses += [("out-of-scope", t, k) for t, k in got if k in ("answer", "clarify")]

    handoff = _load(data_dir / "handoff.yaml")
    got = replies(handoff, "ho")
    report.figures["handoff_recall"] = _share(got, {"handoff"})
    report.safety_misses += [("handoff", t, k) for t, k in got if k != "handoff"]

    smalltalk = _load(data_dir / "smalltalk.yaml")
    texts = [t for group in smalltalk.values() for t in group]
    got = replies(texts, "st")
    report.figures["smalltalk_recall"] = _share(got, {"smalltalk"})
    report.safety_misses += [("smalltalk", t, k) for t, k in got if k != "smalltalk"]


def _conversations(bot: Bot, path: Path, report: Report) -> None:
    if not path.exists():
        return
    passed = turns = 0
    for number, conversation in enumerate(_load(path)):
        session = f"conv-{number}"
        ok = True
        for turn in conversation["turns"]:
            reply = bot.reply(turn["q"], session)
            turns += 1
            expected = turn.get("expect")
            expected_type = turn.get("type", "answer" if expected else None)
            if expected and reply.faq_id != expected and expected not in [
                s.faq_id for s in reply.suggestions if reply.type == "clarify"
            ]:
                ok = False
                report.safety_misses.append(("conversation", turn["q"], reply.faq_id or
                                             reply.type))
            elif any(turn.get(k) and getattr(reply, k) != turn[k] for k in ("procedure", "topic")):
                ok = False
                report.safety_misses.append(("conversation", turn["q"],
                                             f"{reply.procedure}/{reply.topic}"))
            elif expected_type and reply.type != expected_type and not expected:
                ok = False
                report.safety_misses.append(("conversation", turn["q"], reply.type))
        passed += ok
    total = len(_load(path))
    report.figures["conversations_passed"] = passed / total if total else 0.0


def _share(got: list[tuple[str, str]], good: set[str]) -> float:
    return sum(kind in good for _, kind in got) / len(got) if got else 0.0

