"""`faqbot eval`: what patients receive, on messages written blind.

Reads the splits under `tests/eval/split/` (train, dev and the sealed test:
single messages, each with the set of acceptable entries or none, and
multi-turn conversations), `tests/heldout/`, the triage sets under
`tests/triage/` and the intent sets under `tests/data/`. Every message runs
through the full engine; each reply is counted as the patient got it: answered
right, answered wrong, a clarification with or without a right option, or a
fallback. Plain BM25 (rank_bm25) over the same entries, which never abstains,
is the baseline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .assembly import build_bot
from .config import Settings
from .engine import Bot
from .normalise import normalise

OUTCOMES = ("right", "wrong", "clarify_right", "clarify_wrong", "fallback", "red_flag")
# Floors `faqbot eval` enforces on the dev split (the sealed test split is
# reported, not gated: it is scored once). Strict: a clarify or a fallback is
# never counted as right, whatever its first suggestion.
FLOORS = {
    # Set on the dev split as it stands since the twelve procedure families of
    # 0.2 brought their own blind messages (dev-new-families.yaml): harder
    # than the old dev split alone, where the floor for right answers was 0.80.
    "correct_of_answerable": (">=", 0.70),
    "wrong_of_all": ("<=", 0.03),
    "clarify_of_all": ("<=", 0.10),
    "fallback_of_answerable": ("<=", 0.20),
    "declined_of_unanswerable": (">=", 0.92),
    "turns_correct": (">=", 0.74),
    "points_above_bm25": (">=", -0.12),
}


@dataclass
class SplitReport:
    """What patients received on one split."""

    name: str
    answerable: int = 0
    unanswerable: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    declined: int = 0
    unanswerable_answered: int = 0
    unanswerable_clarified: int = 0
    turns: int = 0
    turns_correct: int = 0
    bm25_top1: float = 0.0
    not_in_spanish: int = 0
    per_procedure: dict[str, dict[str, int]] = field(default_factory=dict)
    misses: list[tuple[str, str, str, str]] = field(default_factory=list)

    @property
    def messages(self) -> int:
        return self.answerable + self.unanswerable

    def figures(self) -> dict[str, float]:
        n, a, u = self.messages, self.answerable, self.unanswerable
        o = self.outcomes
        wrong = o["wrong"] + self.unanswerable_answered
        clarified = o["clarify_right"] + o["clarify_wrong"] + self.unanswerable_clarified
        correct = o["right"] / a if a else 0.0
        return {
            "messages": n, "answerable": a, "unanswerable": u,
            "correct_of_answerable": correct,
            "wrong_of_all": wrong / n if n else 0.0,
            "clarify_of_all": clarified / n if n else 0.0,
            "clarify_with_right_option_of_answerable": o["clarify_right"] / a if a else 0.0,
            "fallback_of_answerable": o["fallback"] / a if a else 0.0,
            "declined_of_unanswerable": self.declined / u if u else 0.0,
            "turns_correct": self.turns_correct / self.turns if self.turns else 0.0,
            "bm25_top1_of_answerable": self.bm25_top1,
            "points_above_bm25": correct - self.bm25_top1,
            "replies_not_in_spanish": float(self.not_in_spanish),
        }


@dataclass
class Report:
    figures: dict[str, float] = field(default_factory=dict)
    splits: dict[str, SplitReport] = field(default_factory=dict)
    previous: dict[str, dict[str, float]] = field(default_factory=dict)
    previous_name: str = "before"
    safety_misses: list[tuple[str, str, str]] = field(default_factory=list)
    misses: list[tuple[str, str, str, str]] = field(default_factory=list)

    def below_floors(self, split: str = "dev") -> list[str]:
        if split not in self.splits:
            return []
        figures = self.splits[split].figures()
        failed = []
        for name, (op, bound) in FLOORS.items():
            value = figures[name]
            if (op == ">=" and value < bound) or (op == "<=" and value > bound):
                failed.append(f"{split} {name} {value:.3f} (floor {op} {bound})")
        return failed

    def summary(self) -> str:
        lines = []
        for name, split in self.splits.items():
            figures = split.figures()
            before = self.previous.get(name, {})
            lines.append(f"split {name}: {split.messages} messages ({split.answerable} "
                         f"answerable, {split.unanswerable} not), {split.turns} turns")
            lines.append(f"  {'figure':<42} {'now':>6} {self.previous_name[:6]:>6}")
            for key, value in figures.items():
                if key in ("messages", "answerable", "unanswerable"):
                    continue
                old = f"{before[key]:.3f}" if key in before else "-"
                lines.append(f"  {key:<42} {value:>6.3f} {old:>6}")
            lines.append("  per procedure (right / answered wrong / clarify / fallback, of n):")
            for procedure, counts in sorted(split.per_procedure.items()):
                lines.append(f"    {procedure:<30} {counts['right']:>3} / {counts['wrong']:>2}"
                             f" / {counts['clarify']:>2} / {counts['fallback']:>2} of "
                             f"{counts['n']:>3}")
        if self.figures:
            lines.append("safety and intent sets:")
            lines += [f"  {k:<42} {v:>6.3f}" for k, v in self.figures.items()]
        return "\n".join(lines)

    def markdown(self) -> str:
        out = ["# Evaluation report", "", "```", self.summary(), "```", "",
               "## Misses (split, message, expected, got)", ""]
        out += [f"- {s}: {q!r}: expected `{e}`, got {g}" for s, q, e, g in self.misses]
        out += ["", "## Safety and intent misses (set, message, got)", ""]
        out += [f"- {s}: {q!r} -> {t}" for s, q, t in self.safety_misses]
        return "\n".join(out) + "\n"


def read_split(directory: Path, name: str) -> dict[str, Any] | None:
    """One split: `{name}.yaml` and any `{name}-*.yaml` parts (sets written
    later, or a retired sealed test kept as training data), merged; None when
    there is none."""
    paths = [directory / f"{name}.yaml", *sorted(directory.glob(f"{name}-*.yaml"))]
    merged: dict[str, Any] = {"questions": [], "conversations": []}
    found = False
    for path in paths:
        if path.exists():
            found = True
            data = _load(path) or {}
            merged["questions"] += data.get("questions") or []
            merged["conversations"] += data.get("conversations") or []
    return merged if found else None


def _load(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def outcome_of(reply_type: str, faq_id: str | None, suggested: list[str],
               expect: set[str]) -> str:
    """What the patient received, for a message with these acceptable entries."""
    if reply_type in ("emergency", "urgent"):
        return "red_flag"
    if not expect:
        return {"answer": "wrong", "clarify": "clarify_wrong"}.get(reply_type, "declined")
    if reply_type == "answer":
        return "right" if faq_id in expect else "wrong"
    if reply_type == "clarify":
        return "clarify_right" if expect.intersection(suggested) else "clarify_wrong"
    return "fallback"


def bm25_top1(bot: Bot, items: list[tuple[str, set[str]]], spanish: bool = False) -> float:
    """Plain BM25 over every phrasing, never abstaining: top-1 on answerable messages."""
    from rank_bm25 import BM25Okapi

    corpus = bot.corpus_es if spanish and bot.corpus_es is not None else bot.corpus
    entries = corpus.entries
    documents = [normalise(" ".join(e.phrasings())).split() for e in entries]
    bm25 = BM25Okapi(documents)
    answerable = [(q, e) for q, e in items if e]
    right = 0
    for question, expect in answerable:
        scores = bm25.get_scores(normalise(question).split())
        best = max(range(len(entries)), key=lambda i: (scores[i], -i))
        right += entries[best].id in expect
    return right / len(answerable) if answerable else 0.0


def evaluate_split(bot: Bot, name: str, data: dict[str, Any]) -> SplitReport:
    report = SplitReport(name)
    entries = bot.corpus.by_id
    items: list[tuple[str, set[str]]] = []
    for number, item in enumerate(data.get("questions") or []):
        text, expect = str(item["q"]), set(item.get("expect") or ())
        items.append((text, expect))
        reply = bot.reply(text, f"eval-{name}-{number}")
        if name.startswith("es-"):
            report.not_in_spanish += reply.language != "es"
        suggested = [s.faq_id for s in reply.suggestions]
        kind = outcome_of(reply.type, reply.faq_id, suggested, expect)
        if expect:
            report.answerable += 1
            report.outcomes[kind] += 1
            owner = entries[sorted(expect)[0]].procedure if sorted(expect)[0] in entries else None
            counts = report.per_procedure.setdefault(
                owner or "none", {"right": 0, "wrong": 0, "clarify": 0, "fallback": 0, "n": 0})
            counts["n"] += 1
            bucket = {"right": "right", "wrong": "wrong", "clarify_right": "clarify",
                      "clarify_wrong": "clarify"}.get(kind, "fallback")
            counts[bucket] += 1
        else:
            report.unanswerable += 1
            if kind == "declined" or kind == "red_flag":
                report.declined += 1
            elif kind == "wrong":
                report.unanswerable_answered += 1
            else:
                report.unanswerable_clarified += 1
        if kind not in ("right", "declined"):
            got = f"{reply.type} {reply.faq_id or suggested[:2]}"
            report.misses.append((name, text, ", ".join(sorted(expect)) or "(not answerable)",
                                  got))
    for number, conversation in enumerate(data.get("conversations") or []):
        session = f"eval-{name}-conversation-{number}"
        for turn in conversation["turns"]:
            expect = set(turn.get("expect") or ())
            reply = bot.reply(str(turn["q"]), session)
            report.turns += 1
            kind = outcome_of(reply.type, reply.faq_id, [s.faq_id for s in reply.suggestions],
                              expect)
            good = kind == "right" if expect else kind == "declined"
            report.turns_correct += good
            if name.startswith("es-"):
                report.not_in_spanish += reply.language != "es"
            if not good:
                report.misses.append((f"{name} conversation {number}", str(turn["q"]),
                                      ", ".join(sorted(expect)) or "(not answerable)",
                                      f"{reply.type} {reply.faq_id or ''}"))
    report.bm25_top1 = bm25_top1(bot, items, spanish=name.startswith("es-"))
    return report


def run_evaluation(settings: Settings, tests_dir: Path,
                   splits: tuple[str, ...] = ("train", "dev")) -> Report:
    bot = build_bot(settings)
    report = Report()
    split_dir = tests_dir / "eval" / "split"
    previous = split_dir / "previous_release.yaml"
    if previous.exists():
        data = _load(previous) or {}
        report.previous_name = str(data.pop("release", "before"))
        report.previous = data
    for name in splits:
        # "es-dev" reads tests/eval/split_es/dev.yaml: the Spanish messages.
        data = (read_split(tests_dir / "eval" / "split_es", name.removeprefix("es-"))
                if name.startswith("es-") else read_split(split_dir, name))
        if data is None:
            continue
        split = evaluate_split(bot, name, data)
        report.splits[name] = split
        report.misses += split.misses
    _heldout(bot, tests_dir / "heldout" / "questions.yaml", report)
    _safety_sets(bot, tests_dir / "data", report)
    _triage_sets(bot, tests_dir / "triage", report, sealed="test" in splits)
    return report


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
        got = reply.faq_id if reply.type == "answer" else ""
        right += got == item["expect"]
        answered += reply.type == "answer"
        answered_right += reply.type == "answer" and reply.faq_id == item["expect"]
        if got != item["expect"]:
            report.misses.append(("held-out", str(item["q"]), str(item["expect"]),
                                  f"{reply.type} {got}"))
    for number, item in enumerate(uncovered):
        reply = bot.reply(str(item["q"]), f"heldout-none-{number}")
        declined += reply.type != "answer"
        if reply.type == "answer":
            report.safety_misses.append(("held-out, not covered", str(item["q"]),
                                         reply.faq_id or reply.type))
    if answerable:
        report.figures["heldout_questions"] = len(answerable)
        report.figures["heldout_correct_of_answerable"] = right / len(answerable)
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


def _triage_sets(bot: Bot, triage_dir: Path, report: Report, *, sealed: bool) -> None:
    """Red-flag recall and false alarms on the blind triage sets."""
    names = ("train", "dev", "sealed") if sealed else ("train", "dev")
    for name in names:
        path = triage_dir / f"{name}.yaml"
        if not path.exists():
            continue
        items = _load(path)
        red = [i for i in items if i["label"] in ("emergency", "crisis")]
        urgent = [i for i in items if i["label"] == "urgent"]
        calm = [i for i in items if i["label"] == "calm"]
        found = {id(i): bot.triage.check(i["text"]) for i in items}
        caught = sum((flag := found[id(i)]) is not None and flag.tier != "urgent" for i in red)
        raised = sum(bool(found[id(i)]) for i in urgent)
        alarms = [i for i in calm if found[id(i)]]
        report.figures[f"triage_{name}_emergency_recall"] = caught / len(red) if red else 0.0
        report.figures[f"triage_{name}_urgent_raised"] = raised / len(urgent) if urgent else 0.0
        report.figures[f"triage_{name}_false_alarms"] = len(alarms) / len(calm) if calm else 0.0
        report.safety_misses += [(f"triage {name}", i["text"], "missed") for i in red + urgent
                                 if not found[id(i)]]
        report.safety_misses += [(f"triage {name}", i["text"], "false alarm") for i in alarms]


def _share(got: list[tuple[str, str]], good: set[str]) -> float:
    return sum(kind in good for _, kind in got) / len(got) if got else 0.0

