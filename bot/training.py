"""`faqbot train-ranker`: fit the re-ranker on the train split, choose the
operating point on the dev split, save the artefact.

The sealed test split is never read here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .domain import Match, SessionState
from .engine import Bot
from .evaluation import outcome_of, read_split
from .index import Index
from .policy import Decision, decide_calibrated
from .ranker import MODEL_PATH, Context, OperatingPoint, RankerModel, fit

SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class Example:
    """One patient message as the bot sees it, with the acceptable entries."""

    query: str
    context: Context
    expect: frozenset[str]
    text: str
    # What the engine does before the answer bar applies (Bot.route), or
    # "red_flag": only "retrieve" and "doubtful" messages depend on the bar.
    route: str = "retrieve"


def load_split(directory: Path, name: str) -> dict[str, Any]:
    data = read_split(directory, name)
    if data is None:
        raise FileNotFoundError(f"no {name} split in {directory}")
    return data


def examples(bot: Bot, split: dict[str, Any], index: Index | None = None) -> Iterator[Example]:
    """Single messages in a fresh session, then every turn of every
    conversation in the context its earlier turns leave (the bot's own
    replies build that context, as they would for a patient)."""
    analyzer = (index or bot._index).analyzer
    for item in split["questions"]:
        text = str(item["q"])
        prepared = analyzer.prepare(text)
        named = analyzer.procedures_named(prepared)
        query, context = bot._in_context(text, prepared, named, SessionState("train"), index)
        yield Example(query, context, frozenset(item.get("expect") or ()), text,
                      _route(bot, text, prepared, named, index))
    for number, conversation in enumerate(split["conversations"]):
        state = SessionState(f"train-conversation-{number}")
        for turn in conversation["turns"]:
            text = str(turn["q"])
            prepared = analyzer.prepare(text)
            named = analyzer.procedures_named(prepared)
            query, context = bot._in_context(text, prepared, named, state, index)
            expect = frozenset(turn.get("expect") or ())
            yield Example(query, context, expect, text, _route(bot, text, prepared, named, index))
            # The context the next turn sees: what the bot would remember.
            bot.reply(text, state.session_id)
            state = bot.sessions.load(state.session_id)


def _route(bot: Bot, text: str, prepared: str, named: list[str], index: Index | None) -> str:
    if bot.check_red_flags(text):
        return "red_flag"
    if index is None:
        return bot.route(text, prepared, named)
    intent = bot.intents_es.match(text) if bot.intents_es else None
    return intent or "retrieve"


def candidate_table(bot: Bot, items: list[Example], index: Index | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feature rows, labels and message numbers for the top candidates."""
    rows: list[np.ndarray] = []
    labels: list[bool] = []
    groups: list[int] = []
    analyzer = (index or bot._index).analyzer
    for number, example in enumerate(items):
        table, shortlist = bot.shortlist(analyzer.prepare(example.query), example.context, index)
        if not shortlist:
            continue
        rows.append(table)
        labels.extend(m.faq_id in example.expect for m in shortlist)
        groups.extend([number] * len(shortlist))
    return np.vstack(rows), np.asarray(labels, dtype=int), np.asarray(groups)


@dataclass(frozen=True)
class Outcome:
    right: int = 0
    wrong: int = 0
    clarify_right: int = 0
    clarify_wrong: int = 0
    fallback: int = 0
    declined: int = 0
    unanswerable_answered: int = 0
    unanswerable_clarified: int = 0


def score_decisions(bot: Bot, items: list[Example], ranked: list[list[Match]],
                    point: OperatingPoint) -> Outcome:
    entries = {**bot.corpus.by_id, **(bot.corpus_es.by_id if bot.corpus_es else {})}
    counts = dict.fromkeys(Outcome.__dataclass_fields__, 0)
    for example, candidates in zip(items, ranked, strict=True):
        if example.route not in ("retrieve", "doubtful"):
            continue  # answered the same way whatever the bar
        decision = decide_calibrated(
            candidates, entries, point, bot.settings.thresholds,
            procedure_known=bool(example.context.named or example.context.remembered))
        if example.route == "doubtful" and decision.type != "answer":
            decision = Decision("fallback", reason="out of scope")
        kind = outcome_of(decision.type, decision.match.faq_id if decision.match else None,
                          [m.faq_id for m in decision.suggestions], set(example.expect))
        if not example.expect and kind != "declined":
            kind = {"wrong": "unanswerable_answered",
                    "clarify_wrong": "unanswerable_clarified"}[kind]
        counts[kind] += 1
    return Outcome(**counts)


def choose_operating_point(bot: Bot, items: list[Example], ranked: list[list[Match]]
                           ) -> tuple[OperatingPoint, list[dict[str, float]]]:
    """The answer bar that gives the most right answers (a clarification
    costing half of one) while wrong answers stay within the 3% target;
    if none does, the one with the fewest wrong answers."""
    n = len(items)
    sweep = []
    best: tuple[float, OperatingPoint] | None = None
    for answer in np.arange(0.30, 0.90, 0.025):
        for gap in (0.0, 0.05, 0.1, 0.2):
            for clarify in (0.15, 0.25, 0.35):
                point = OperatingPoint(answer=round(float(answer), 3),
                                       risky_answer=round(min(0.95, answer + gap), 3),
                                       clarify=clarify, suggest=0.08, related=0.15)
                outcome = score_decisions(bot, items, ranked, point)
                wrong = (outcome.wrong + outcome.unanswerable_answered) / n
                right = outcome.right / n
                clarified = (outcome.clarify_right + outcome.clarify_wrong
                             + outcome.unanswerable_clarified) / n
                sweep.append({"answer": point.answer, "risky_answer": point.risky_answer,
                              "clarify": clarify, "right": round(right, 3),
                              "wrong": round(wrong, 3), "clarified": round(clarified, 3)})
                value = right - 0.5 * clarified if wrong <= 0.03 else -wrong
                if best is None or value > best[0]:
                    best = (value, point)
    return (best[1] if best else OperatingPoint()), sweep


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = 10
                ) -> list[dict[str, object]]:
    """Predicted against observed, per probability band: the dev reliability table."""
    table = []
    edges = np.linspace(0.0, 1.0, bins + 1)
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        mask = (probabilities >= low) & ((probabilities < high) | (high == 1.0))
        if mask.any():
            table.append({"band": f"{low:.1f}-{high:.1f}", "n": int(mask.sum()),
                          "predicted": round(float(probabilities[mask].mean()), 3),
                          "observed": round(float(labels[mask].mean()), 3)})
    return table


def train_ranker(bot: Bot, eval_dir: Path, out: Path = MODEL_PATH,
                 language: str = "en") -> RankerModel:
    index = bot._index_es if language == "es" else None
    if language == "es" and index is None:
        raise ValueError("no Spanish twins to train a Spanish ranker on")
    corpus = index.corpus if index else bot.corpus

    def install(model: RankerModel) -> None:
        if language == "es":
            bot.ranker_es = model
        else:
            bot.ranker = model

    train = list(examples(bot, load_split(eval_dir, "train"), index))
    rows, labels, groups = candidate_table(bot, train, index)
    model = fit(rows, labels, groups, corpus_hash=corpus.version or "")
    install(model)
    dev = list(examples(bot, load_split(eval_dir, "dev"), index))
    ranked = [bot.candidates(e.query, e.context, index) for e in dev]
    point, sweep = choose_operating_point(bot, dev, ranked)
    dev_rows, dev_labels, dev_groups = candidate_table(bot, dev, index)
    tops = [(c[0].score, c[0].faq_id in e.expect) for e, c in zip(dev, ranked, strict=True)
            if c]
    model.operating_point = point
    model.report = {
        "train_messages": len(train), "dev_messages": len(dev),
        "dev_reliability_top": reliability(np.asarray([p for p, _ in tops]),
                                           np.asarray([ok for _, ok in tops], dtype=float)),
        "dev_reliability_all": reliability(model.probabilities(dev_rows, dev_groups),
                                           dev_labels.astype(float)),
        "sweep": sweep,
    }
    model.save(out)
    install(model)
    return model
