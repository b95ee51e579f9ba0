"""Emergency detection: deterministic, first on every message, independent of the corpus.

Patterns live in `intents/emergency.yaml`. A message is split into clauses;
a pattern that matches inside a clause counts unless a negation comes just
before it ("no chest pain") or the clause is about the past ("I had a stroke
3 years ago"). Typos are corrected towards the words of the patterns only, so
a staff edit of the corpus or its synonyms can never weaken this check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from .normalise import normalise, tokens
from .patterns import compile_pattern, pattern_words
from .spelling import Speller

_CLAUSE_BREAK = re.compile(r"[.,;:!?\n()]+|\b(?:but|however|although|though|anyway|also)\b", re.I)
_NEGATION = {"no", "not", "never", "without", "nor", "none", "nothing", "denies", "deny"}
_SCOPE_END = {"and", "but", "so", "then", "because", "since", "now", "until"}
# Phrases with "not" that do not deny a symptom: "can not stop throwing up".
_NOT_NEGATION = re.compile(
    r"\b(?:not sure|not certain|do not know|not know|not to worry|"
    r"(?:can|could|will|would|does|did) not stop|not stopping)\b")
_HISTORY = re.compile(
    r"\b(?:\d+ (?:years?|yrs?|months?|decades?) ago|years ago|months ago|a year ago|"
    r"last year|(?:19|20)\d\d|as a (?:child|kid|teen)|history of|in the past|disorder)\b"
)
_PRESENT = re.compile(
    r"\b(?:now|today|tonight|this (?:morning|afternoon|evening)|currently|again|since|"
    r"keeps?|still|just|started|starting)\b"
)
_NEGATION_WINDOW = 4


@dataclass(frozen=True)
class Category:
    name: str
    reason: str
    patterns: tuple[re.Pattern[str], ...]
    self_harm: bool = False
    ignores_history: bool = False


@dataclass(frozen=True)
class Emergency:
    category: str
    reason: str
    self_harm: bool


class EmergencyDetector:
    def __init__(self, categories: list[Category]) -> None:
        if not categories:
            raise ValueError("the emergency detector needs at least one category")
        self.categories = categories
        self.speller = Speller(
            pattern_words(p for category in categories for p in category.patterns)
        )

    @classmethod
    def from_file(cls, path: str | Path) -> EmergencyDetector:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
        categories = []
        for name, spec in (data or {}).get("categories", {}).items():
            try:
                patterns = tuple(compile_pattern(p) for p in spec["patterns"])
            except (KeyError, TypeError, re.error) as exc:
                raise ValueError(f"{path}: category '{name}': bad patterns: {exc}") from exc
            self_harm = bool(spec.get("self_harm", False))
            categories.append(Category(name, str(spec["reason"]), patterns, self_harm,
                                       ignores_history=self_harm))
        return cls(categories)

    def clauses(self, text: str) -> list[str]:
        """Normalised, typo-corrected clauses of the message."""
        result = []
        for part in _CLAUSE_BREAK.split(text):
            words = tokens(normalise(part))
            if words:
                result.append(" ".join(self.speller.correct(words)))
        return result

    def detect(self, text: str) -> Emergency | None:
        clauses = self.clauses(text)
        for category in self.categories:
            for clause in clauses:
                # "A stroke 3 years ago" is history; "stent in 2019 and now chest
                # pain" is not: a present-time word keeps the clause current.
                is_history = bool(_HISTORY.search(clause)) and not _PRESENT.search(clause)
                if is_history and not category.ignores_history:
                    continue
                for pattern in category.patterns:
                    for match in pattern.finditer(clause):
                        if not _negated(clause, match.start()) and not _negated_inside(
                            match.group(0), pattern.pattern
                        ):
                            return Emergency(category.name, category.reason, category.self_harm)
        return None


def _negated_inside(matched: str, pattern: str) -> bool:
    """A negation that a gap let into the match: "chest does not hurt".

    Patterns that spell a negation themselves ("will not stop") keep it.
    """
    return any(word in _NEGATION and not re.search(rf"\b{word}\b", pattern)
               for word in matched.split())


def _negated(clause: str, start: int) -> bool:
    before = _NOT_NEGATION.sub(" ", clause[:start]).split()
    for word in reversed(before[-_NEGATION_WINDOW:]):
        if word in _SCOPE_END:
            return False
        if word in _NEGATION:
            return True
    return False
