"""The one text pipeline every matcher shares: normalise, map lay terms, fix typos.

Indexing and querying both go through `Analyzer.prepare`, so the retriever,
the intent matcher and the emergency detector see the same words.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from .corpus import Lexicon
from .normalise import normalise, tokens
from .spelling import Speller


class Analyzer:
    def __init__(self, lexicon: Lexicon, vocabulary_texts: Iterable[str]) -> None:
        self.lexicon = lexicon
        counts: Counter[str] = Counter()
        # The corpus's own texts need no correction (every word is in the
        # vocabulary), so their canonical form is kept and indexing reuses it.
        self._known: dict[str, str] = {}
        for text in vocabulary_texts:
            canonical = lexicon.canonical(text)
            self._known[text] = canonical
            counts.update(tokens(canonical))
        self.speller = Speller(counts)

    @classmethod
    def from_counts(cls, lexicon: Lexicon, counts: Counter[str]) -> Analyzer:
        """An analyzer from a saved vocabulary, without re-reading the corpus."""
        analyzer = cls(lexicon, ())
        analyzer.speller = Speller(counts)
        return analyzer

    def prepare(self, text: str) -> str:
        """Normalised, canonical, typo-corrected words joined by spaces."""
        known = self._known.get(text)
        if known is not None:
            return known
        canonical = self.lexicon.canonical(text)
        corrected = " ".join(self.speller.correct(tokens(canonical)))
        # A corrected word may complete a lay phrase ("stint" fixed to "stent").
        return self.lexicon.replace.apply(corrected) if corrected != canonical else canonical

    def procedures_named(self, prepared: str) -> list[str]:
        """Procedure slugs whose terms appear in prepared text, in order of first mention.

        Longer terms are matched first and blanked out, so "uterine fibroid
        embolization" does not also count as plain "embolization".
        """
        padded = f" {prepared} "
        first_seen: dict[str, int] = {}
        terms = sorted(
            ((term, slug) for slug, ts in self.lexicon.procedure_terms.items() for term in ts),
            key=lambda pair: -len(pair[0]),
        )
        for term, slug in terms:
            needle = f" {term} "
            position = padded.find(needle)
            while position >= 0:
                first_seen[slug] = min(first_seen.get(slug, position), position)
                padded = padded[:position + 1] + "#" * len(term) + padded[position + 1 + len(term):]
                position = padded.find(needle)
        return sorted(first_seen, key=first_seen.__getitem__)


def plain_analyzer() -> Analyzer:
    """An analyzer with no lexicon and no vocabulary, for tests and tools."""
    return Analyzer(Lexicon(), ())


__all__ = ["Analyzer", "normalise", "plain_analyzer"]
