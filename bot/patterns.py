"""The small pattern language of `intents/*.yaml`.

A pattern is a regular expression over normalised words separated by single
spaces, with two shorthands: " ~ " for a gap of up to three words and " ... "
for any number of words. Patterns match whole words only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_GAP = r"(?: \S+){0,3} "
_ANY_GAP = r"(?: \S+)* "


def compile_pattern(source: str) -> re.Pattern[str]:
    body = source.strip().replace(" ~ ", _GAP).replace(" ... ", _ANY_GAP)
    try:
        return re.compile(r"(?<!\S)(?:" + body + r")(?!\S)")
    except re.error as exc:
        raise ValueError(f"bad pattern {source!r}: {exc}") from exc


def pattern_words(patterns: Iterable[re.Pattern[str]]) -> set[str]:
    """The literal words of patterns: the vocabulary typos are corrected towards."""
    words: set[str] = set()
    for pattern in patterns:
        # Whole literal words only: "fri[oa]" or "fri\\w*" give no word, so a
        # typo is never "corrected" into a fragment like "fri"; the letters of
        # regex escapes ("\\w", "\\d") are not words either.
        words.update(w for w in re.findall(r"(?<![\]\w\\])([a-z]+)(?![\[\w?*+{\\])",
                                           pattern.pattern) if len(w) > 2)
    return words
