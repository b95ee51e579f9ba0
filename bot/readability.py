"""How hard the answers are to read, checked by `faqbot validate`.

English answers aim at grade 6 or lower (Flesch-Kincaid grade), Spanish ones
at a Fernández-Huerta reading ease of 65 or more. One hard answer is a
warning for its writer; a corpus where most answers miss the aim, or one
answer far beyond it, is an error. textstat does the syllable counting
(pyphen dictionaries per language), which we would otherwise get wrong.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from functools import cache

from textstat.textstat import textstatistics

from .corpus import Problem
from .domain import FaqEntry

GRADE_AIM = 6.0  # English, Flesch-Kincaid grade
GRADE_LIMIT = 10.0
EASE_AIM = 65.0  # Spanish, Fernández-Huerta reading ease
EASE_LIMIT = 50.0
MOST = 0.75  # the share of answers that must meet the aim


@cache
def _counter(language: str) -> textstatistics:
    # One instance per language: textstat's module-level language is global.
    counter = textstatistics()
    counter.set_lang(language)
    return counter


def grade(text: str) -> float:
    return float(_counter("en").flesch_kincaid_grade(text))


def ease(text: str) -> float:
    return float(_counter("es").fernandez_huerta(text))


def reading_problems(entries: Sequence[FaqEntry], language: str = "en") -> list[Problem]:
    """Warnings for answers that miss the aim, errors for answers far beyond
    it and for a corpus where fewer than three in four meet it."""
    if not entries:
        return []
    spanish = language == "es"
    problems: list[Problem] = []
    met = 0
    for entry in entries:
        if spanish:
            score = ease(entry.answer)
            ok, far = score >= EASE_AIM, score < EASE_LIMIT
            described = f"reading ease {score:.0f} (aim: {EASE_AIM:.0f} or more)"
        else:
            score = grade(entry.answer)
            ok, far = score <= GRADE_AIM, score > GRADE_LIMIT
            described = f"reading grade {score:.1f} (aim: {GRADE_AIM:.0f} or lower)"
        met += ok
        if not ok:
            problems.append(Problem(entry.file or "?", entry.id,
                                    f"answer {described}: shorter sentences, plainer words",
                                    "error" if far else "warning"))
    share = met / len(entries)
    if share < MOST:
        scores = [ease(e.answer) if spanish else grade(e.answer) for e in entries]
        problems.append(Problem(
            "corpus/es" if spanish else "corpus", None,
            f"only {share:.0%} of the {'Spanish' if spanish else 'English'} answers meet the "
            f"reading aim (median {statistics.median(scores):.1f}); at least {MOST:.0%} must"))
    return problems
