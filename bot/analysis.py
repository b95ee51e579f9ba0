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
        """Procedure slugs whose terms appear in prepared text, in order of first mention."""
        padded = f" {prepared} "
        found: list[tuple[int, str]] = []
        for slug, terms in self.lexicon.procedure_terms.items():
            positions = [padded.find(f" {t} ") for t in terms if f" {t} " in padded]
            if positions:
                found.append((min(positions), slug))
        return [slug for _, slug in sorted(found)]


def plain_analyzer() -> Analyzer:
    """An analyzer with no lexicon and no vocabulary, for tests and tools."""
    return Analyzer(Lexicon(), ())


__all__ = ["Analyzer", "normalise", "plain_analyzer"]
