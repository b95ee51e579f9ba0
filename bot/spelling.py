"""Typo tolerance: correct unknown words towards a known vocabulary.

A word is left alone when it is in the vocabulary, is short, contains digits,
or is an ordinary English word (pyspellchecker's frequency list, which ships
with the package and needs no download). Only then is it replaced by the
closest vocabulary word within a small Damerau-Levenshtein distance, so
"recovry" becomes "recovery" but "grandkids" is not bent into a corpus word.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein, Levenshtein
from spellchecker import SpellChecker

_MIN_LENGTH = 4
# Above this many choices, letter counts narrow them before any edit distance.
_LETTER_FILTER_FROM = 2_000
_ALPHABET = {ch: i for i, ch in enumerate("abcdefghijklmnopqrstuvwxyz0123456789")}
_ENGLISH_MIN_COUNT = 50


@lru_cache(maxsize=1)
def _english() -> SpellChecker:
    return SpellChecker(distance=1)


def english_frequency(word: str) -> int:
    """How often the word occurs in pyspellchecker's English list (0 if never)."""
    return int(_english().word_frequency[word])


def is_english_word(word: str) -> bool:
    return _english().word_frequency[word] >= _ENGLISH_MIN_COUNT


def _english_one_edit_away(word: str) -> bool:
    checker = _english()
    return any(checker.word_frequency[w] >= _ENGLISH_MIN_COUNT
               for w in checker.edit_distance_1(word))


def max_edits(word: str) -> int:
    """Allowed edits grow with length: one for 4-5 letters, two up to 8, then three."""
    if len(word) < _MIN_LENGTH:
        return 0
    if len(word) <= 5:
        return 1
    if len(word) <= 8:
        return 2
    return 3


class Speller:
    """Corrects out-of-vocabulary words against `vocabulary` (word -> count)."""

    def __init__(self, vocabulary: Counter[str] | Iterable[str], *,
                 yield_to_english: bool = False, max_distance: int = 3) -> None:
        # With a small vocabulary (the red-flag words) a typo of an everyday
        # word must not be bent into a symptom: "kindey" is "kidney", not "winded".
        self.yield_to_english = yield_to_english
        # Without a dictionary to yield to (Spanish), only one-letter slips
        # are corrected: "asusta" must not become "apesta".
        self.max_distance = max_distance
        self.vocabulary: Counter[str] = (
            vocabulary if isinstance(vocabulary, Counter) else Counter(vocabulary)
        )
        self._choices = sorted(w for w in self.vocabulary if len(w) >= _MIN_LENGTH - 1)
        self._by_length: dict[int, list[str]] = {}
        for choice in self._choices:
            self._by_length.setdefault(len(choice), []).append(choice)
        self._cache: dict[str, str] = {}
        self._choice_lists: dict[tuple[int, int], list[str]] = {}
        self._letter_counts: dict[tuple[int, int], np.ndarray] = {}
        self._lengths: dict[tuple[int, int], np.ndarray] = {}

    def correct_word(self, word: str) -> str:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        result = self._correct(word)
        if len(self._cache) < 100_000:
            self._cache[word] = result
        return result

    def _correct(self, word: str) -> str:
        limit = min(max_edits(word), self.max_distance)
        if (
            limit == 0
            or word in self.vocabulary
            or any(ch.isdigit() for ch in word)
            or is_english_word(word)
        ):
            return word
        # Plain Levenshtein is at most twice Damerau-Levenshtein, so this cheap
        # pre-filter keeps every real candidate; the slower scorer then ranks them.
        near = [
            choice for choice, _, _ in process.extract(
                word, self._near_in_letters(word, limit),
                scorer=Levenshtein.distance, score_cutoff=2 * limit, limit=None)
        ]
        candidates = process.extract(
            word,
            sorted(near),
            scorer=DamerauLevenshtein.distance,
            score_cutoff=limit,
            limit=8,
        )
        if not candidates:
            return word
        # Closest first; among equally close words the more frequent one, then
        # the one sharing the first letter (typos rarely hit the first letter).
        best = min(
            candidates,
            key=lambda c: (c[1], c[0][0] != word[0], -self.vocabulary[c[0]], c[0]),
        )
        if self.yield_to_english and best[1] > 1 and _english_one_edit_away(word):
            return word
        return str(best[0])

    def _near_in_letters(self, word: str, limit: int) -> list[str]:
        """Choices of about the word's length whose letter counts differ from
        the word's by at most 2 x `limit` in all.

        Each Damerau-Levenshtein edit changes the letter counts by at most
        two (a substitution takes one letter away and adds another; a
        transposition changes none), so no word within `limit` edits is
        dropped: the same candidates as scoring every choice, found with one
        array operation instead of fifteen thousand string comparisons.
        """
        choices = self._choices_by_length(len(word), limit)
        if len(choices) < _LETTER_FILTER_FROM:
            return choices
        by_letter = self._letter_counts.get((len(word), limit))
        if by_letter is None:
            # One row per letter, so the word's letters are contiguous reads.
            by_letter = np.ascontiguousarray(_letter_counts(choices).T)
            self._letter_counts[(len(word), limit)] = by_letter
        lengths = self._choice_lengths(len(word), limit)
        # sum |a - b| = sum a + sum b - 2 sum min(a, b), and min(a, b) is 0
        # wherever the word lacks the letter: only the word's letters are read.
        mine = _letter_counts([word])[0]
        present = np.flatnonzero(mine)
        shared = np.minimum(by_letter[present], mine[present, None]).sum(axis=0)
        differences = lengths + len(word) - 2 * shared
        return [choices[i] for i in np.flatnonzero(differences <= 2 * limit)]

    def _choice_lengths(self, length: int, limit: int) -> np.ndarray:
        found = self._lengths.get((length, limit))
        if found is None:
            found = np.fromiter(map(len, self._choices_by_length(length, limit)),
                                dtype=np.int64)
            self._lengths[(length, limit)] = found
        return found

    def _choices_by_length(self, length: int, limit: int) -> list[str]:
        """Vocabulary words whose length is within `limit` of `length`.

        Kept once built: with a large vocabulary (30,000 words at 47k
        entries) building the list cost more than scoring it.
        """
        key = (length, limit)
        choices = self._choice_lists.get(key)
        if choices is None:
            choices = [w for n in range(length - limit, length + limit + 1)
                       for w in self._by_length.get(n, ())]
            self._choice_lists[key] = choices
        return choices

    def correct(self, words: Iterable[str]) -> list[str]:
        return [self.correct_word(w) for w in words]


def _letter_counts(words: list[str]) -> np.ndarray:
    """How often each letter and digit occurs in each word (any other
    character counted in one shared last column)."""
    other = len(_ALPHABET)
    joined = "".join(words)
    if joined.isascii():
        # Every character's (word, column) cell counted in one bincount.
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        rows = np.repeat(np.arange(len(words)), lengths)
        columns = _BYTE_COLUMN[np.frombuffer(joined.encode("ascii"), dtype=np.uint8)]
        cells = np.bincount(rows * (other + 1) + columns, minlength=len(words) * (other + 1))
        return cells.reshape(len(words), other + 1).astype(np.int16)
    counts = np.zeros((len(words), other + 1), dtype=np.int16)
    for row, word in enumerate(words):
        for ch in word:
            counts[row, _ALPHABET.get(ch, other)] += 1
    return counts


_BYTE_COLUMN = np.full(256, len(_ALPHABET), dtype=np.int64)
for _ch, _column in _ALPHABET.items():
    _BYTE_COLUMN[ord(_ch)] = _column
