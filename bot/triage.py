"""Red-flag triage: deterministic, first on every message, independent of the corpus.

Red flags live in `intents/red_flags.yaml` as concepts (symptom, body site,
severity or onset) combined into rules, each category with its tier and
sources. A message is split into clauses; a rule that matches inside a clause
counts unless the clause is out of scope:

- a negation comes just before the match ("no chest pain", "chest does not hurt");
- the clause asks about signs rather than reporting one ("what if it bleeds",
  "should I worry if my leg goes cold", "what are the warning signs");
- the clause is about the past: history ("a stroke 3 years ago") or a sign that
  has passed ("was numb for an hour, fine now");
- the category's own `unless` context explains it ("numb legs after the
  injection" is the expected effect of a nerve block, not a cold limb).

A present-time word ("now", "again", "still") keeps a clause current whatever
else it says. Third persons count: "my husband is confused" is a red flag.
Typos are corrected towards the words of the rules only, so a staff edit of the
corpus or its synonyms can never weaken this check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .normalise import normalise, tokens
from .patterns import compile_pattern, pattern_words
from .rule_index import CueIndex
from .spelling import Speller

TIERS = ("crisis", "emergency", "urgent")
# Which tier wins when one message raises several: the ambulance first.
SEVERITY = {"crisis": 3, "emergency": 2, "urgent": 1}

_SENTENCE_BREAK = re.compile(r"[.;!?\n]+(?:\s|$)|[;!?\n]+")
_CLAUSE_BREAK = re.compile(
    r"[,:()]+|\s-\s|\b(?:but|however|although|though|anyway|also|btw|plus)\b", re.I)
_NEGATION = {"no", "not", "never", "without", "nor", "none", "nothing", "denies", "deny", "zero"}
_SCOPE_END = {",", "and", "but", "so", "then", "because", "since", "now", "until", "just", "except"}
# Phrases with "not" that do not deny a symptom: "can not stop throwing up".
_NOT_NEGATION = re.compile(
    r"\b(?:not sure|not certain|do not know|not know|not to worry|not normal|not right|"
    r"(?:can|could|will|would|does|did|is|has|have) not (?:stop|stopped|slow|slowed)|"
    r"(?:can|could) not (?:keep|wake|get|move|lift|walk|stand|speak|talk|swallow|breathe|"
    r"breath|pee|catch|hold|feel (?:my|his|her))|"
    r"not stopping|not getting better|not improving|not helping|not working|"
    r"do not want|does not want|not want|no longer want)\b")
_NEGATION_WINDOW = 6
# "chest pain none since": a denial right after the sign.
_NEGATION_AFTER = {"none", "nil", "gone", "free"}
_MERGE_SHORTER_THAN = 3


@dataclass(frozen=True)
class Grammar:
    """The words that split clauses and deny a sign, per language.

    English by default; a rule file may give its own under `grammar:`.
    """

    clause_break: re.Pattern[str] = _CLAUSE_BREAK
    negation: frozenset[str] = frozenset(_NEGATION)
    scope_end: frozenset[str] = frozenset(_SCOPE_END)
    not_negation: re.Pattern[str] = _NOT_NEGATION
    negation_after: frozenset[str] = frozenset(_NEGATION_AFTER)

    @classmethod
    def from_mapping(cls, data: dict[str, Any] | None) -> Grammar:
        if not data:
            return cls()
        words = data.get("clause_break_words") or []
        return cls(
            clause_break=re.compile(r"[,:()]+|\s-\s|\b(?:" + "|".join(map(re.escape, words))
                                    + r")\b", re.I) if words else _CLAUSE_BREAK,
            negation=frozenset(data.get("negation") or _NEGATION),
            scope_end=frozenset([",", *(data.get("scope_end") or _SCOPE_END)]),
            not_negation=re.compile(r"\b(?:" + "|".join(data["not_negation"]) + r")\b")
            if data.get("not_negation") else _NOT_NEGATION,
            negation_after=frozenset(data.get("negation_after") or _NEGATION_AFTER),
        )


@dataclass(frozen=True)
class Scope:
    """Message-level rules, from the `scope` section of the YAML."""

    asking: re.Pattern[str]
    history: re.Pattern[str]
    resolved: re.Pattern[str]
    past_tense: re.Pattern[str]
    present: re.Pattern[str]
    recent: re.Pattern[str]
    expected: re.Pattern[str]
    about_care: re.Pattern[str]


@dataclass(frozen=True)
class Category:
    name: str
    tier: str
    reason: str
    patterns: tuple[re.Pattern[str], ...]
    unless: tuple[re.Pattern[str], ...] = ()
    sources: tuple[str, ...] = ()
    # Crisis wording is never "only a question" or "only history".
    always_in_scope: bool = False


@dataclass(frozen=True)
class RedFlag:
    category: str
    tier: str
    reason: str

    @property
    def self_harm(self) -> bool:
        return self.tier == "crisis"

    @property
    def reply_type(self) -> str:
        """The contract's reply type: a crisis is answered as an emergency."""
        return "urgent" if self.tier == "urgent" else "emergency"


class Triage:
    def __init__(self, categories: list[Category], scope: Scope,
                 grammar: Grammar | None = None, *, yield_to_english: bool = True) -> None:
        if not categories:
            raise ValueError("triage needs at least one red-flag category")
        self.categories = sorted(categories, key=lambda c: -SEVERITY[c.tier])
        self.scope = scope
        self.grammar = grammar or Grammar()
        # The scope words are known words too: "hace 3 anos" must not be
        # "corrected" into a symptom's words.
        scope_patterns = [getattr(scope, name) for name in Scope.__dataclass_fields__]
        self.speller = Speller(pattern_words([
            *(p for category in categories for p in (*category.patterns, *category.unless)),
            *scope_patterns]), yield_to_english=yield_to_english,
            max_distance=3 if yield_to_english else 1)
        self._cues = CueIndex([c.patterns for c in self.categories])

    @classmethod
    def from_file(cls, path: str | Path) -> Triage:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
        return cls.from_mapping(data, str(path))

    @classmethod
    def from_mapping(cls, data: dict[str, Any], origin: str = "red flags") -> Triage:
        concepts = {str(k): _alternation(v) for k, v in (data.get("concepts") or {}).items()}

        def compile_all(where: str, sources: Any) -> tuple[re.Pattern[str], ...]:
            if not isinstance(sources, list):
                raise ValueError(f"{origin}: {where}: expected a list of patterns")
            try:
                return tuple(compile_pattern(_expand(str(s), concepts)) for s in sources)
            except (KeyError, ValueError) as exc:
                raise ValueError(f"{origin}: {where}: {exc}") from exc

        raw_scope = data.get("scope") or {}
        try:
            scope = Scope(**{name: _any_of(compile_all(f"scope {name}", raw_scope.get(name, [])))
                             for name in Scope.__dataclass_fields__})
        except TypeError as exc:
            raise ValueError(f"{origin}: scope: {exc}") from exc
        categories = []
        for name, spec in (data.get("categories") or {}).items():
            if not isinstance(spec, dict):
                raise ValueError(f"{origin}: category '{name}': expected a mapping")
            tier = spec.get("tier")
            if tier not in TIERS:
                raise ValueError(f"{origin}: category '{name}': tier must be one of {TIERS}")
            if not spec.get("sources"):
                raise ValueError(f"{origin}: category '{name}': name its sources")
            categories.append(Category(
                name=str(name), tier=tier, reason=str(spec["reason"]),
                patterns=compile_all(f"category '{name}'", spec.get("patterns")),
                unless=compile_all(f"category '{name}' unless", spec.get("unless", [])),
                sources=tuple(str(s) for s in spec["sources"]),
                always_in_scope=bool(spec.get("always_in_scope", tier == "crisis")),
            ))
        grammar = Grammar.from_mapping(data.get("grammar"))
        return cls(categories, scope, grammar,
                   yield_to_english=str(data.get("language", "en")) == "en")

    def clauses(self, text: str) -> list[str]:
        """Normalised, typo-corrected clauses of the message."""
        return [c for sentence in self._sentences(text) for c in sentence]

    def _sentences(self, text: str, typos: bool = True) -> list[list[str]]:
        """Sentences, each a list of clauses (normalised and typo-corrected).

        A fragment of one or two words joins the next clause, so a list of
        adjectives ("black, tarry, sticky stools") stays one thought; a short
        denial ("no fever, but...") stays apart, so it denies only itself.
        """
        sentences = []
        for raw in _SENTENCE_BREAK.split(text):
            clauses: list[str] = []
            carry: list[str] = []
            for part in self.grammar.clause_break.split(raw):
                words = tokens(normalise(part))
                words = carry + (self.speller.correct(words) if typos else words)
                if not words:
                    continue
                if len(words) < _MERGE_SHORTER_THAN and not self.grammar.negation.intersection(
                        words):
                    carry = words
                    continue
                carry = []
                clauses.append(" ".join(words))
            if carry:
                clauses.append(" ".join(carry))
            if clauses:
                sentences.append(clauses)
        return sentences

    def check(self, text: str, *, typos: bool = True) -> RedFlag | None:
        """The most severe red flag the message reports, or None.

        `typos=False` reads the words as written: for a message in another
        language, whose words must not be "corrected" into these rules' words.
        """
        sentences = self._sentences(text, typos)
        clauses = [c for sentence in sentences for c in sentence]
        whole = " ".join(clauses)
        # Most messages hold no key word of any red-flag rule: stop there.
        rules = self._cues.rules_for(whole)
        joined = " , ".join(clauses)
        # Nor, mostly, does a rule keyed in match anywhere: then scope is moot.
        if not any(self.categories[c].patterns[r].search(joined)
                   for c, numbers in rules.items() for r in numbers):
            return None
        about_care = bool(self.scope.about_care.search(whole))
        # "Low fever after embolization, is that normal?": a hedge in a clause
        # or one of the next two makes an urgent-tier sign a question.
        hedges = [bool(self.scope.expected.search(c)) for c in clauses]
        hedged = [any(hedges[i:i + 3]) for i in range(len(clauses))]
        # A sign told as passed ("was numb for an hour, fine now"): the
        # resolution comes in the same clause or a later one.
        resolved = [bool(self.scope.resolved.search(c)) for c in clauses]
        reach = [self._reach(clause, any(resolved[i:])) for i, clause in enumerate(clauses)]
        # A story told in the past: after a clause of history ("a reaction to
        # dye in 2009"), its sentence's past-tense clauses are history too.
        start = 0
        for sentence in sentences:
            told_before = False
            for k in range(start, start + len(sentence)):
                clause = clauses[k]
                if self.scope.recent.search(clause) or self.scope.present.search(clause):
                    told_before = False
                elif told_before and self.scope.past_tense.search(clause):
                    reach[k] = 0
                elif self.scope.history.search(clause):
                    told_before = True
            start += len(sentence)
        # Each clause alone, then each sentence whole, so a sign told across a
        # comma ("bleeding, pressed for ten minutes, it will not stop") is seen;
        # a sentence counts only when none of its clauses is out of scope.
        units = list(zip(clauses, reach, hedged, strict=True))
        start = 0
        for sentence in sentences:
            if len(sentence) > 1:
                span = range(start, start + len(sentence))
                full = all(reach[k] > len(clauses[k]) for k in span)
                text_of = " , ".join(sentence)
                units.append((text_of, len(text_of) + 1 if full else 0,
                              any(hedged[k] for k in span)))
            start += len(sentence)
        for number, category in enumerate(self.categories):
            if number not in rules:
                continue
            patterns = [category.patterns[r] for r in rules[number]]
            if category.unless and any(u.search(whole) for u in category.unless):
                continue
            if about_care and category.tier != "crisis":
                continue
            for unit, limit, hedge in units:
                if hedge and category.tier == "urgent":
                    continue
                if category.always_in_scope:
                    limit = len(unit) + 1
                # Crisis wording carries its own negation ("do not want to
                # live"); a "not" further back belongs to another verb.
                window = 3 if category.always_in_scope else _NEGATION_WINDOW
                if limit and self._matches(patterns, unit, limit, window):
                    return RedFlag(category.name, category.tier, category.reason)
        return None

    def _reach(self, clause: str, resolved_later: bool) -> int:
        """How much of the clause reports a sign happening now."""
        if self.scope.present.search(clause):
            return len(clause) + 1
        asking = self.scope.asking.search(clause)
        limit = asking.start() if asking else len(clause) + 1
        if self.scope.recent.search(clause):
            return limit
        if self.scope.history.search(clause):
            return 0
        # "My arm was numb for an hour, it is fine now": past tense in a
        # message that says the sign has passed.
        if resolved_later and self.scope.past_tense.search(clause):
            return 0
        return limit

    def _matches(self, patterns: list[re.Pattern[str]], clause: str, limit: int,
                 window: int = _NEGATION_WINDOW) -> bool:
        grammar = self.grammar
        for pattern in patterns:
            for match in pattern.finditer(clause):
                if match.start() >= limit:
                    break
                if not _negated(clause, match.start(), match.end(), window, grammar) and \
                        not _negated_inside(match.group(0), pattern.pattern, grammar):
                    return True
        return False


def _alternation(words: Any) -> str:
    """A concept: words separated by "|" (regular expressions allowed)."""
    if not isinstance(words, str) or not words.strip():
        raise ValueError(f"a concept is words separated by '|', got {words!r}")
    return "(?:" + "|".join(w.strip() for w in words.split("|")) + ")"


_CONCEPT = re.compile(r"\{([a-z][a-z0-9_-]*)\}")


def _expand(source: str, concepts: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in concepts:
            raise KeyError(f"unknown concept {{{name}}} in {source!r}")
        return concepts[name]

    # Concepts may name concepts; three rounds is deeper than any rule needs.
    for _ in range(3):
        source = _CONCEPT.sub(replace, source)
    return source


def _any_of(patterns: tuple[re.Pattern[str], ...]) -> re.Pattern[str]:
    if not patterns:
        return re.compile(r"(?!x)x")  # matches nothing
    return re.compile("|".join(f"(?:{p.pattern})" for p in patterns))


def _negated_inside(matched: str, pattern: str, grammar: Grammar) -> bool:
    """A negation that a gap let into the match: "chest does not hurt".

    Patterns that spell a negation themselves ("will not stop") keep it.
    """
    cleaned = grammar.not_negation.sub(" ", matched)
    return any(word in grammar.negation and not re.search(rf"\b{word}\b", pattern)
               for word in cleaned.split())


def _negated(clause: str, start: int, end: int, window: int, grammar: Grammar) -> bool:
    after = clause[end:].split()[:2]
    if any(word in grammar.negation_after for word in after):
        return True
    before = grammar.not_negation.sub(" ", clause[:start]).split()
    for word in reversed(before[-window:]):
        if word in grammar.scope_end:
            return False
        if word in grammar.negation:
            return True
    return False
