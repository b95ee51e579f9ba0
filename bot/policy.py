"""The one place that chooses what kind of reply a patient gets.

`decide_calibrated` is pure: given candidates with calibrated probabilities
(`bot/ranker.py`), it returns a `Decision`. The operating point is chosen on
the dev split by `faqbot train-ranker`; settings may override it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .domain import FaqEntry, Match
from .normalise import normalise
from .ranker import OperatingPoint

DEFAULT_RISKY_TERMS = (
    "blood thinner", "anticoagulant", "clopidogrel", "warfarin", "aspirin", "insulin",
    "metformin", "diabetes", "fasting", "eat", "drink", "sedation", "anesthesia", "medicines",
    "stop taking", "allergy", "allergic", "pregnan",
)


@dataclass(frozen=True)
class Thresholds:
    # Overrides of the ranker's operating point; 0 keeps the chosen one.
    answer: float = 0.0
    risky_answer: float = 0.0
    context_boost: float = 0.2
    risky_topics: tuple[str, ...] = ("warning-signs",)
    risky_terms: tuple[str, ...] = DEFAULT_RISKY_TERMS

    def __post_init__(self) -> None:
        for name in ("answer", "risky_answer", "context_boost"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"threshold {name} must be between 0 and 1, got {value!r}")

    def is_risky(self, entry: FaqEntry) -> bool:
        if entry.topic in self.risky_topics:
            return True
        question = f" {normalise(entry.question)} "
        return any(f" {normalise(t)}" in question for t in self.risky_terms)


@dataclass(frozen=True)
class Decision:
    type: str  # answer, clarify or fallback
    match: Match | None = None
    suggestions: tuple[Match, ...] = field(default_factory=tuple)
    reason: str = ""


def rerank(
    matches: Sequence[Match],
    entries: Mapping[str, FaqEntry],
    procedure: str | None,
    boost: float,
    *,
    named: bool = False,
    other_procedure_factor: float = 0.6,
) -> list[Match]:
    """Favour the procedure under discussion.

    A remembered procedure lifts its own entries by `boost`. A procedure named
    in the message also damps entries about other specific procedures: a
    patient who says "stent" is not asking about embolization.
    """
    if not procedure:
        return list(matches)

    def adjusted(match: Match) -> Match:
        owner = entries[match.faq_id].procedure
        if owner == procedure:
            return Match(match.faq_id, min(1.0, match.score + boost))
        if named and owner not in (None, "general"):
            return Match(match.faq_id, match.score * other_procedure_factor)
        return match

    return sorted((adjusted(m) for m in matches), key=lambda m: (-m.score, m.faq_id))


def decide_calibrated(
    candidates: Sequence[Match],
    entries: Mapping[str, FaqEntry],
    point: OperatingPoint,
    thresholds: Thresholds,
    *,
    procedure_known: bool = True,
) -> Decision:
    """Answer, clarify or fall back on calibrated probabilities.

    `candidates` are sorted, most likely first, each `score` the probability
    that it answers the message. Risky topics (warning signs, medicines,
    fasting, sedation, allergies, pregnancy) need a higher probability.
    """
    if not candidates:
        return Decision("fallback", reason="no match")
    top = candidates[0]
    entry = entries[top.faq_id]
    if (not procedure_known and entry.procedure not in (None, "general")
            and top.score >= point.clarify):
        # No procedure named or remembered, and the best answer is about one:
        # a general entry on the same topic answers for all of them; failing
        # that, if other procedures have their own answer, ask which one.
        alike = [m for m in candidates[1:5] if entries[m.faq_id].topic == entry.topic]
        general = [m for m in alike if entries[m.faq_id].procedure in (None, "general")
                   and m.score >= point.suggest]
        if general:
            return Decision("answer", general[0], (), reason="a general entry answers it")
        owners: set[str | None] = {entry.procedure}
        choices = [top]
        for match in alike:
            owner = entries[match.faq_id].procedure
            if owner not in owners:
                owners.add(owner)
                choices.append(match)
        if len(choices) >= 2:
            return Decision("clarify", top, tuple(choices[:3]), reason="which procedure")
    needed = point.risky_answer if thresholds.is_risky(entry) else point.answer
    if top.score >= needed:
        related = tuple(m for m in candidates[1:3] if m.score >= point.related)
        return Decision("answer", top, related, reason="confident")
    others = [m for m in candidates[1:4] if m.score >= point.clarify]
    if top.score >= point.clarify and others:
        return Decision("clarify", top, (top, *others[:2]), reason="two answers are close")
    near = tuple(m for m in candidates[:3] if m.score >= point.suggest)
    return Decision("fallback", top, near, reason="below threshold")
