"""A learned re-ranker with a calibrated probability that a candidate is right.

TF-IDF proposes candidates; this module describes each with features that
never name an entry (similarity parts, agreement between the best phrasing and
the whole entry, procedure named or remembered or absent, topic cue words,
word overlap after typo correction, answer overlap), so it keeps working when
staff add entries. A conditional logit lets one message's candidates, and a
"none of these" option, compete for one unit of probability; Platt scaling
fitted on out-of-fold probabilities calibrates it.

Serving needs only numpy: the fitted model is a small JSON artefact
(`bot/models/ranker.json`), keyed by the corpus hash it was trained with and
rebuilt by `faqbot train-ranker`. Fitting imports scikit-learn.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .domain import FaqEntry, Match
from .normalise import normalise, tokens
from .retriever import Retriever

log = logging.getLogger("faqbot.ranker")

MODEL_PATH = Path(__file__).resolve().parent / "models" / "ranker.json"
# Fitted on the Spanish splits: Spanish messages score differently (no topic
# cue words, other stop words), so they get their own weights and bar.
MODEL_ES_PATH = MODEL_PATH.with_name("ranker_es.json")
CANDIDATES = 10
# The artefact's kind: `intercept` is the utility of "none of these".
MODEL_KIND = "conditional-logit"

FEATURES = (
    "score", "raw_score", "gap_to_top", "gap_to_next", "rank", "is_top",
    "word_best", "char_best", "word_whole", "char_whole", "answer_word",
    "best_vs_whole",
    "procedure_named", "procedure_named_other", "procedure_remembered",
    "procedure_general", "procedure_unknown_specific",
    "topic_cue", "other_topic_cue_only",
    "overlap_exact", "overlap_related", "missing_words", "query_words", "answer_overlap",
    "named_sibling_below", "specific_sibling_above", "topic_cue_x_score", "named_x_score",
    "bm25_relative", "bm25_rank", "bm25_is_top",
)


@dataclass(frozen=True)
class Context:
    """What the conversation says about the procedure."""

    named: tuple[str, ...] = ()
    remembered: str | None = None


class TopicCues:
    """Cue words per topic, from `intents/topic_cues.yaml`."""

    def __init__(self, cues: Mapping[str, Sequence[str]]) -> None:
        self.cues = {topic: tuple(f" {normalise(c)} " for c in words)
                     for topic, words in cues.items()}

    @classmethod
    def from_file(cls, path: str | Path) -> TopicCues:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected topic: [cue words]")
        return cls({str(k): [str(w) for w in v] for k, v in data.items()})

    def hits(self, prepared: str) -> dict[str, int]:
        padded = f" {prepared} "
        return {topic: sum(c in padded for c in cues) for topic, cues in self.cues.items()}


class Featurizer:
    """Describes candidates of one corpus; built once per index."""

    def __init__(self, entries: Sequence[FaqEntry], retriever: Retriever,
                 cues: TopicCues) -> None:
        self.entries = {e.id: e for e in entries}
        self.retriever = retriever
        self.cues = cues
        self._answer_words: dict[str, frozenset[str]] = {}
        self._stems: dict[str, frozenset[str]] = {}

    def answer_words(self, faq_id: str) -> frozenset[str]:
        words = self._answer_words.get(faq_id)
        if words is None:
            words = frozenset(tokens(normalise(self.entries[faq_id].answer)))
            self._answer_words[faq_id] = words
        return words

    def stems(self, faq_id: str, own: frozenset[str]) -> frozenset[str]:
        """The first five letters of the entry's words of six letters or more.
        A query word is related to an entry word when they are the same, or
        both have six letters or more and share the first five; not "work"
        for "worked": that merge is left to the similarity features."""
        stems = self._stems.get(faq_id)
        if stems is None:
            stems = frozenset(v[:5] for v in own if len(v) >= 6)
            self._stems[faq_id] = stems
        return stems

    def features(self, prepared: str, matches: Sequence[Match],
                 raw: Mapping[str, float], context: Context,
                 bm25: np.ndarray | None = None) -> np.ndarray:
        """One row of `FEATURES` per candidate, in the order given."""
        if not matches:
            return np.zeros((0, len(FEATURES)), dtype=np.float64)
        retriever = self.retriever
        indices = [retriever.index_of(m.faq_id) for m in matches]
        if bm25 is None:
            bm25 = retriever.bm25(prepared)
        bm25_best = float(bm25.max()) or 1.0
        bm25_order = np.argsort(-bm25, kind="stable")
        bm25_rank = np.empty(len(bm25), dtype=np.int64)
        bm25_rank[bm25_order] = np.arange(len(bm25))
        parts = retriever.components(prepared, indices)
        content = retriever.content_words(prepared)
        cue_hits = self.cues.hits(prepared)
        any_cue = {t for t, n in cue_hits.items() if n}
        top = matches[0].score
        owners = [self.entries[m.faq_id].procedure for m in matches]
        topics = [self.entries[m.faq_id].topic for m in matches]
        rows = []
        for i, match in enumerate(matches):
            entry = self.entries[match.faq_id]
            own = retriever.words_of(match.faq_id)
            stems = self.stems(match.faq_id, own)
            exact = sum(w in own for w in content)
            related = sum(w in own or (len(w) >= 6 and w[:5] in stems) for w in content)
            answer_words = self.answer_words(match.faq_id)
            in_answer = sum(w in answer_words for w in content)
            n = len(content)
            procedure = entry.procedure
            general = procedure in (None, "general")
            next_score = matches[i + 1].score if i + 1 < len(matches) else 0.0
            topic_hits = cue_hits.get(entry.topic or "", 0)
            rows.append((
                match.score, raw.get(match.faq_id, 0.0),
                match.score - top, match.score - next_score,
                i / CANDIDATES, float(i == 0),
                parts["word_best"][i], parts["char_best"][i],
                parts["word_whole"][i], parts["char_whole"][i], parts["answer_word"][i],
                parts["word_best"][i] - parts["word_whole"][i],
                float(procedure in context.named),
                float(bool(context.named) and procedure not in context.named and not general),
                float(not context.named and procedure == context.remembered),
                float(general),
                float(not context.named and not context.remembered and not general),
                min(topic_hits, 3) / 3,
                float(topic_hits == 0 and bool(any_cue)),
                exact / n if n else 1.0, related / n if n else 1.0,
                min(n - related, 5) / 5, min(n, 10) / 10,
                in_answer / n if n else 0.0,
                # A general or other entry outranking one of the named procedure
                # on the same topic, and the other way round.
                float(procedure not in context.named and any(
                    owners[j] in context.named and topics[j] == entry.topic
                    for j in range(i + 1, len(matches)))),
                float(procedure in context.named and any(
                    owners[j] not in context.named and topics[j] == entry.topic
                    for j in range(i))),
                min(topic_hits, 3) / 3 * match.score,
                float(procedure in context.named) * match.score,
                float(bm25[indices[i]]) / bm25_best,
                min(int(bm25_rank[indices[i]]), CANDIDATES) / CANDIDATES,
                float(bm25_rank[indices[i]] == 0),
            ))
        return np.asarray(rows, dtype=np.float64)


@dataclass(frozen=True)
class OperatingPoint:
    """Probabilities at which the bot answers, clarifies or falls back."""

    answer: float = 0.5
    risky_answer: float = 0.7
    clarify: float = 0.2
    suggest: float = 0.08
    related: float = 0.15


class RankerModel:
    def __init__(self, *, mean: np.ndarray, scale: np.ndarray, coef: np.ndarray,
                 intercept: float, calibration_x: np.ndarray, calibration_y: np.ndarray,
                 operating_point: OperatingPoint, corpus_hash: str,
                 features: Sequence[str] = FEATURES, report: dict[str, Any] | None = None
                 ) -> None:
        if tuple(features) != FEATURES:
            raise ValueError("the ranker artefact was built for other features; "
                             "run `faqbot train-ranker`")
        self.mean, self.scale, self.coef = mean, scale, coef
        self.intercept = intercept
        self.calibration_x, self.calibration_y = calibration_x, calibration_y
        self.operating_point = operating_point
        self.corpus_hash = corpus_hash
        self.report = report or {}

    def probabilities(self, rows: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
        """The probability that each candidate is the one that answers its
        message; `rows` are one message's shortlist unless `groups` numbers
        the message of each row."""
        if not len(rows):
            return np.zeros(0)
        if groups is None:
            groups = np.zeros(len(rows), dtype=np.int64)
        utility = ((rows - self.mean) / self.scale) @ self.coef
        raw = _choice_probabilities(utility, groups, self.intercept)
        return np.asarray(np.interp(raw, self.calibration_x, self.calibration_y))

    # ------------------------------------------------------------ artefact

    def to_json(self) -> dict[str, Any]:
        return {
            "model": MODEL_KIND, "features": list(FEATURES), "corpus_hash": self.corpus_hash,
            "mean": self.mean.tolist(), "scale": self.scale.tolist(),
            "coef": self.coef.tolist(), "intercept": self.intercept,
            "calibration": {"x": self.calibration_x.tolist(), "y": self.calibration_y.tolist()},
            "operating_point": {k: getattr(self.operating_point, k)
                                for k in OperatingPoint.__dataclass_fields__},
            "report": self.report,
        }

    def save(self, path: Path = MODEL_PATH) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=1) + "\n", encoding="utf-8")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RankerModel:
        if data.get("model") != MODEL_KIND:
            raise ValueError("the ranker artefact predates the conditional logit; "
                             "run `faqbot train-ranker`")
        return cls(
            mean=np.asarray(data["mean"]), scale=np.asarray(data["scale"]),
            coef=np.asarray(data["coef"]), intercept=float(data["intercept"]),
            calibration_x=np.asarray(data["calibration"]["x"]),
            calibration_y=np.asarray(data["calibration"]["y"]),
            operating_point=OperatingPoint(**data["operating_point"]),
            corpus_hash=str(data["corpus_hash"]), features=data["features"],
            report=data.get("report"),
        )

    @classmethod
    def untrained(cls) -> RankerModel:
        """A stand-in that trusts the retrieval score alone, to bootstrap training."""
        coef = np.zeros(len(FEATURES))
        coef[FEATURES.index("score")] = 8.0
        # "None of these" is as likely as a candidate scoring 0.5.
        return cls(mean=np.zeros(len(FEATURES)), scale=np.ones(len(FEATURES)), coef=coef,
                   intercept=4.0, calibration_x=np.asarray([0.0, 1.0]),
                   calibration_y=np.asarray([0.0, 1.0]), operating_point=OperatingPoint(),
                   corpus_hash="")

    @classmethod
    def load(cls, path: Path = MODEL_PATH, corpus_hash: str | None = None) -> RankerModel:
        if not path.exists():
            log.warning("no ranker at %s; using retrieval scores alone until "
                        "`faqbot train-ranker` builds one", path)
            return cls.untrained()
        try:
            model = cls.from_json(json.loads(path.read_text(encoding="utf-8")))
        except ValueError as error:
            # An artefact from an older release: serve on retrieval scores
            # (and let `faqbot train-ranker` run) rather than refuse to start.
            log.warning("%s: %s; using retrieval scores alone", path, error)
            return cls.untrained()
        if corpus_hash and corpus_hash != model.corpus_hash:
            # The features name no entry, so the model still applies; the
            # operating point was only measured on the corpus it was built with.
            log.info("ranker was trained on corpus %s, serving %s; run `faqbot train-ranker` "
                     "to refit", model.corpus_hash, corpus_hash)
        return model


def fit(rows: np.ndarray, labels: np.ndarray, groups: np.ndarray, corpus_hash: str,
        operating_point: OperatingPoint | None = None, c: float = 1.0) -> RankerModel:
    """A conditional logit over each message's shortlist plus a "none of
    these" option, calibrated by Platt scaling on out-of-fold probabilities
    (folds by message, so no message calibrates itself).

    Scoring candidates one at a time (a plain logistic regression) cannot see
    that the best candidate has no rival: a clear winner and one of three
    look-alikes got the same probability. Here the candidates of one message
    compete for one unit of probability, and "none" takes it when the
    message is one the corpus does not answer.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    mean = rows.mean(axis=0)
    scale = rows.std(axis=0)
    scale[scale == 0] = 1.0
    standard = (rows - mean) / scale
    out_of_fold = np.zeros(len(rows))
    for train, held in GroupKFold(n_splits=5).split(standard, labels, groups):
        coef, null = _fit_choice(standard[train], labels[train], groups[train], 1.0 / c)
        out_of_fold[held] = _choice_probabilities(standard[held] @ coef, groups[held], null)
    coef, null = _fit_choice(standard, labels, groups, 1.0 / c)
    # Platt scaling on each message's best out-of-fold candidate (the one the
    # answer bar is applied to), kept as a dense lookup table so serving is
    # one np.interp.
    best = _best_of_each(out_of_fold, groups)
    logit = np.log(np.clip(out_of_fold[best], 1e-6, 1 - 1e-6)
                   / np.clip(1 - out_of_fold[best], 1e-6, 1))
    platt = LogisticRegression(C=1e6, max_iter=2000).fit(logit.reshape(-1, 1), labels[best])
    grid = np.linspace(0.0, 1.0, 201)
    grid_logit = np.log(np.clip(grid, 1e-6, 1 - 1e-6) / np.clip(1 - grid, 1e-6, 1))
    calibrated = platt.predict_proba(grid_logit.reshape(-1, 1))[:, 1]
    return RankerModel(
        mean=mean, scale=scale, coef=coef, intercept=null,
        calibration_x=grid, calibration_y=calibrated,
        operating_point=operating_point or OperatingPoint(), corpus_hash=corpus_hash,
    )


def _group_starts(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each message's rows start, and each row's message number
    (rows of one message are contiguous)."""
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    sizes = np.diff(np.r_[starts, len(groups)])
    return starts, np.repeat(np.arange(len(starts)), sizes)


def _best_of_each(probabilities: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """The row of each message's most probable candidate."""
    order = np.lexsort((-probabilities, groups))
    first = np.r_[True, groups[order][1:] != groups[order][:-1]]
    return np.asarray(order[first])


def _choice_probabilities(utility: np.ndarray, groups: np.ndarray, null: float) -> np.ndarray:
    starts, member = _group_starts(groups)
    top = np.maximum(np.maximum.reduceat(utility, starts), null)
    weight = np.exp(utility - top[member])
    total = np.add.reduceat(weight, starts) + np.exp(null - top)
    return np.asarray(weight / total[member])


def _fit_choice(standard: np.ndarray, labels: np.ndarray, groups: np.ndarray,
                penalty: float) -> tuple[np.ndarray, float]:
    """Maximum likelihood of the conditional logit: each message's acceptable
    candidates (or "none" when no candidate is acceptable) share the
    probability; an L2 penalty on the weights, none on "none"'s utility."""
    from scipy.optimize import minimize

    order = np.argsort(groups, kind="stable")
    x, chosen, g = standard[order], labels[order].astype(float), groups[order]
    starts, member = _group_starts(g)
    answered = np.add.reduceat(chosen, starts) > 0
    k = x.shape[1]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        beta, null = w[:k], w[k]
        utility = x @ beta
        top = np.maximum(np.maximum.reduceat(utility, starts), null)
        weight = np.exp(utility - top[member])
        none = np.exp(null - top)
        total = np.add.reduceat(weight, starts) + none
        wanted = np.add.reduceat(weight * chosen, starts) + none * ~answered
        value = float(-(np.log(wanted) - np.log(total)).sum() + 0.5 * penalty * beta @ beta)
        push = weight / total[member] - chosen * weight / wanted[member]
        grad = np.empty(k + 1)
        grad[:k] = x.T @ push + penalty * beta
        grad[k] = float((none / total - ~answered * none / wanted).sum())
        return value, grad

    result = minimize(loss, np.zeros(k + 1), jac=True, method="L-BFGS-B")
    return np.asarray(result.x[:k]), float(result.x[k])
