"""The calibrated decision and the context it reads: re-ranker artefact, follow-ups, training."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from bot.domain import FaqEntry, Match
from bot.policy import Thresholds, decide_calibrated
from bot.ranker import FEATURES, MODEL_PATH, Context, OperatingPoint, RankerModel
from tests.conftest import ROOT

POINT = OperatingPoint(answer=0.6, risky_answer=0.8, clarify=0.3, suggest=0.1, related=0.2)
ENTRIES = {
    "a-drive": FaqEntry("a-drive", "When can I drive after angioplasty?", "x",
                        "angioplasty-stenting", "recovery"),
    "v-drive": FaqEntry("v-drive", "When can I drive after kyphoplasty?", "x",
                        "vertebroplasty-kyphoplasty", "recovery"),
    "g-drive": FaqEntry("g-drive", "When can I drive after a procedure?", "x", "general",
                        "recovery"),
    "a-warn": FaqEntry("a-warn", "When should I call after angioplasty?", "x",
                       "angioplasty-stenting", "warning-signs"),
    "a-cost": FaqEntry("a-cost", "What does angioplasty cost?", "x",
                       "angioplasty-stenting", "logistics"),
}


def _decide(*scored: tuple[str, float], known: bool = True):  # type: ignore[no-untyped-def]
    return decide_calibrated([Match(f, p) for f, p in scored], ENTRIES, POINT, Thresholds(),
                             procedure_known=known)


def test_answers_when_likely_and_offers_the_next_as_related() -> None:
    decision = _decide(("a-drive", 0.9), ("a-cost", 0.3), ("a-warn", 0.05))
    assert decision.type == "answer" and decision.match.faq_id == "a-drive"
    assert [m.faq_id for m in decision.suggestions] == ["a-cost"]


def test_risky_topics_need_a_higher_probability() -> None:
    assert _decide(("a-warn", 0.7)).type != "answer"
    assert _decide(("a-warn", 0.85)).type == "answer"


def test_clarifies_only_between_plausible_candidates() -> None:
    decision = _decide(("a-drive", 0.5), ("a-cost", 0.4))
    assert decision.type == "clarify" and len(decision.suggestions) == 2
    assert _decide(("a-drive", 0.5), ("a-cost", 0.05)).type == "fallback"


def test_falls_back_when_nothing_is_plausible() -> None:
    decision = _decide(("a-drive", 0.2), ("a-cost", 0.15))
    assert decision.type == "fallback"
    assert [m.faq_id for m in decision.suggestions] == ["a-drive", "a-cost"]
    assert _decide().type == "fallback"


def test_without_a_procedure_a_general_entry_wins_else_ask_which() -> None:
    decision = _decide(("a-drive", 0.9), ("g-drive", 0.2), known=False)
    assert decision.type == "answer" and decision.match.faq_id == "g-drive"
    decision = _decide(("a-drive", 0.9), ("v-drive", 0.2), known=False)
    assert decision.type == "clarify" and decision.reason == "which procedure"
    # With the procedure known the same candidates are simply answered.
    assert _decide(("a-drive", 0.9), ("v-drive", 0.2)).match.faq_id == "a-drive"


def test_the_bundled_ranker_is_calibrated_and_keyed_by_corpus() -> None:
    data = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    assert data["features"] == list(FEATURES) and data["corpus_hash"]
    model = RankerModel.from_json(data)
    assert 0.0 <= model.operating_point.clarify < model.operating_point.answer <= 1.0
    rows = np.tile(model.mean, (3, 1))
    probabilities = model.probabilities(rows)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    # The dev reliability table: predicted within 0.2 of observed where there is data.
    for band in data["report"]["dev_reliability_top"]:
        if band["n"] >= 30:
            assert abs(band["predicted"] - band["observed"]) <= 0.2, band


def test_a_missing_artefact_falls_back_to_retrieval_scores(tmp_path: Path) -> None:
    model = RankerModel.load(tmp_path / "none.json")
    rows = np.zeros((2, len(FEATURES)))
    rows[:, FEATURES.index("score")] = [0.9, 0.1]
    first, second = model.probabilities(rows)
    assert first > 0.9 > 0.1 > second


def test_the_shortlist_adds_bm25_candidates_and_describes_each(bot) -> None:  # type: ignore[no-untyped-def]
    prepared = bot.analyzer.prepare("when can i drive after a stent")
    rows, shortlist = bot.shortlist(prepared, Context(named=("angioplasty-stenting",)))
    assert rows.shape == (len(shortlist), len(FEATURES)) and np.isfinite(rows).all()
    best_bm25 = bot.retriever.entry_ids_[int(np.argmax(bot.retriever.bm25(prepared)))]
    assert best_bm25 in [m.faq_id for m in shortlist]
    named = rows[:, FEATURES.index("procedure_named")]
    owners = [bot.corpus.by_id[m.faq_id].procedure for m in shortlist]
    assert list(named) == [float(o == "angioplasty-stenting") for o in owners]


@pytest.mark.parametrize(
    ("turns", "procedure", "topic"),
    [
        (["recovery after angioplasty", "and for a kyphoplasty?"],
         "vertebroplasty-kyphoplasty", "recovery"),
        (["I am having an epidural injection for my back", "does it hurt?"],
         "pain-injections", "procedure"),
        (["when can i drve after kyfoplasty"], "vertebroplasty-kyphoplasty", "recovery"),
    ],
)
def test_context_follows_the_conversation(fresh_bot, turns, procedure, topic) -> None:  # type: ignore[no-untyped-def]
    for text in turns:
        reply = fresh_bot.reply(text, "ctx")
    assert reply.type == "answer", reply
    assert (reply.procedure, reply.topic) == (procedure, topic)


def test_typo_correction_comes_before_the_evidence_check(fresh_bot) -> None:  # type: ignore[no-untyped-def]
    reply = fresh_bot.reply("how long dose it take", "typo")
    assert reply.reason != "no real word shared with the best entry"
    offered = [reply.faq_id, *[s.faq_id for s in reply.suggestions]]
    # "dose it" read as "does it": how long a procedure takes, not radiation dose.
    assert all(fresh_bot.corpus.by_id[f].topic == "procedure" for f in offered if f)
    assert offered != [None]


def test_no_procedure_asks_which_one(fresh_bot) -> None:  # type: ignore[no-untyped-def]
    reply = fresh_bot.reply("when can i drive", "which")
    assert reply.type == "clarify" and reply.text.startswith("Which procedure")
    owners = {fresh_bot.corpus.by_id[s.faq_id].procedure for s in reply.suggestions}
    assert len(owners) == len(reply.suggestions) >= 2


def test_train_ranker_rebuilds_the_artefact_in_one_command(tmp_path: Path) -> None:
    """Fits on a small split of our own wording and writes a loadable artefact."""
    split = tmp_path / "eval" / "split"
    split.mkdir(parents=True)
    own = {"questions": [
        {"q": "driving after my stent", "expect": ["angio-recovery-driving"]},
        {"q": "shower after lung biopsy", "expect": ["biopsy-recovery-shower-dressing"]},
        {"q": "what is a kyphoplasty", "expect": ["vert-overview-what-is"]},
        {"q": "can i eat before my angioplasty", "expect": ["angio-prep-fasting"]},
        {"q": "how is the weather on mars", "expect": []},
        {"q": "recommend a good pizza place", "expect": []},
    ] * 3, "conversations": [{"turns": [
        {"q": "driving after kyphoplasty", "expect": ["vert-recovery-driving"]},
        {"q": "and for a stent?", "expect": ["angio-recovery-driving"]}]}]}
    for name in ("train", "dev"):
        (split / f"{name}.yaml").write_text(yaml.safe_dump(own), encoding="utf-8")
    out = tmp_path / "ranker.json"
    done = subprocess.run([sys.executable, "-m", "bot.cli", "train-ranker", "--data",
                           str(tmp_path), "--out", str(out)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    model = RankerModel.load(out)
    assert model.report["train_messages"] == 20 and model.report["sweep"]


def _choice_rows(scores: list[float]) -> np.ndarray:
    rows = np.zeros((len(scores), len(FEATURES)))
    rows[:, FEATURES.index("score")] = scores
    return rows


def test_candidates_compete_so_a_clear_winner_is_confident() -> None:
    """The conditional logit: the same retrieval score is worth more when no
    other candidate comes close, and "none of these" takes the probability
    when no candidate fits."""
    from bot.ranker import fit

    rng = np.random.default_rng(7)
    rows, labels, groups = [], [], []
    for message in range(300):
        answerable = message % 4 != 0
        scores = rng.uniform(0.0, 0.45, 5)
        if answerable:
            scores[0] = rng.uniform(0.35, 1.0)
            if message % 3 == 0:
                # Look-alikes: two rivals score about as well as the right one.
                scores[1:3] = scores[0] + rng.uniform(-0.05, 0.05, 2)
        rows.append(_choice_rows(list(scores)))
        labels += [answerable, False, False, False, False]
        groups += [message] * 5
    model = fit(np.vstack(rows), np.asarray(labels, dtype=int), np.asarray(groups), "hash")
    alone = model.probabilities(_choice_rows([0.7, 0.1, 0.1]))
    crowded = model.probabilities(_choice_rows([0.7, 0.68, 0.66]))
    assert alone[0] > 0.8 and alone[0] > crowded[0] + 0.2
    nothing = model.probabilities(_choice_rows([0.2, 0.15, 0.1]))
    assert nothing.max() < 0.3
    # Two messages scored at once keep their own competitions apart.
    both = model.probabilities(np.vstack([_choice_rows([0.7, 0.1]), _choice_rows([0.2, 0.1])]),
                               np.asarray([0, 0, 1, 1]))
    assert np.allclose(both[:2], model.probabilities(_choice_rows([0.7, 0.1])))
