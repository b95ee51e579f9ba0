"""Pure text functions shared by indexing and querying.

The same `normalise` runs on corpus phrasings and on patient messages, so the
two can never drift apart. Nothing here knows about the corpus.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201b": "'", "\u02bc": "'", "`": "'",
                         "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"})

# Contractions are expanded rather than dropped: "can't" must keep its "not",
# or a negation ("I can't breathe" vs "I can breathe") would be lost.
_APOSTROPHE_FORMS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), repl)
    for pattern, repl in (
        (r"\bwon't\b", "will not"),
        (r"\bcan't\b", "can not"),
        (r"\bshan't\b", "shall not"),
        (r"\bain't\b", "is not"),
        (r"n't\b", " not"),
        (r"'re\b", " are"),
        (r"'m\b", " am"),
        (r"'ll\b", " will"),
        (r"'ve\b", " have"),
        (r"'d\b", " would"),
        (r"\b(it|that|what|there|here|who|where|how|he|she)'s\b", r"\1 is"),
        (r"'s\b", ""),
    )
)
# The same words as typed on phones, without the apostrophe.
_BARE_FORMS = {
    "cannot": "can not", "cant": "can not", "wont": "will not", "dont": "do not",
    "doesnt": "does not", "didnt": "did not", "isnt": "is not", "havent": "have not",
    "hasnt": "has not", "wasnt": "was not", "im": "i am", "ive": "i have",
}
# The lookahead on first letters lets the scan skip most positions at once.
_BARE = re.compile(r"\b(?=[" + "".join(sorted({w[0] for w in _BARE_FORMS})) + r"])("
                   + "|".join(_BARE_FORMS) + r")\b")

_NON_WORD = re.compile(r"[^a-z0-9]+")
# For ASCII text: every character but a-z and 0-9 to a space, then split.
_ASCII_NON_WORD = str.maketrans({chr(c): " " for c in range(128)
                                 if not chr(c).isalnum() or chr(c).isupper()})
_WORD = re.compile(r"[a-z0-9]+")


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# Bidirectional overrides and isolates: invisible, and able to reverse text
# shown to staff ("\u202e" makes "exe.txt" read "txt.exe").
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def valid_text(text: str) -> str:
    """Text that encodes as UTF-8 (lone surrogates, half an emoji, become
    U+FFFD) and carries no bidi override.

    Applied at every edge, so one broken character can never make a database
    write fail, poison a session that stores it, or reorder the console.
    """
    return _BIDI_CONTROLS.sub("", _LONE_SURROGATE.sub("\ufffd", text))


def normalise(text: str) -> str:
    """Lower-case, fold accents and punctuation, expand contractions.

    Returns words separated by single spaces; digits are kept ("y90", "24 hours").
    """
    if text.isascii():
        text = text.replace("`", "'").lower()
    else:
        text = unicodedata.normalize("NFKC", text).translate(_QUOTES).casefold()
        text = "".join(
            ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)
        )
    if "'" in text:
        for pattern, repl in _APOSTROPHE_FORMS:
            text = pattern.sub(repl, text)
    text = _BARE.sub(lambda m: _BARE_FORMS[m.group(1)], text)
    if text.isascii():
        return " ".join(text.translate(_ASCII_NON_WORD).split())
    return _NON_WORD.sub(" ", text).strip()


def tokens(text: str) -> list[str]:
    """Words of already-normalised text."""
    return _WORD.findall(text)


class PhraseMap:
    """Replaces whole-word phrases (lay terms, abbreviations) by canonical ones.

    Longer phrases win over shorter ones that they contain, so "heart cath" is
    rewritten before "cath" alone could be.
    """

    def __init__(self, mapping: Mapping[str, str]) -> None:
        self.mapping = {normalise(k): normalise(v) for k, v in mapping.items() if normalise(k)}
        if self.mapping:
            alternatives = sorted(self.mapping, key=len, reverse=True)
            self._pattern: re.Pattern[str] | None = re.compile(
                r"\b(" + "|".join(re.escape(a) for a in alternatives) + r")\b"
            )
        else:
            self._pattern = None
        # The same rewrite word by word, for normalised text: phrases by their
        # first word, longest first, as the pattern's alternation tries them.
        self._by_first: dict[str, list[tuple[list[str], str]]] = {}
        for phrase in sorted(self.mapping, key=len, reverse=True):
            words = phrase.split(" ")
            self._by_first.setdefault(words[0], []).append((words, self.mapping[phrase]))

    def apply(self, normalised: str) -> str:
        if self._pattern is None:
            return normalised
        if not _NORMALISED.fullmatch(normalised):
            return self._pattern.sub(lambda m: self.mapping[m.group(1)], normalised)
        # Text as `normalise` returns it (words of [a-z0-9] between single
        # spaces): a phrase can only start and end at a word's edge, so
        # trying the phrases at each word gives the pattern's result, with a
        # dictionary look-up per word instead of a long alternation per position.
        words = normalised.split(" ")
        by_first = self._by_first
        starts = [i for i, word in enumerate(words) if word in by_first]
        if not starts:
            return normalised
        out: list[str] = []
        done = 0  # words before this one are in `out` or were replaced
        for i in starts:
            if i < done:  # inside a phrase already replaced
                continue
            for phrase, replacement in by_first[words[i]]:
                if words[i:i + len(phrase)] == phrase:
                    out.extend(words[done:i])
                    out.append(replacement)
                    done = i + len(phrase)
                    break
        if not done:
            return normalised
        out.extend(words[done:])
        return " ".join(out)

    def terms(self) -> Iterable[str]:
        return self.mapping.keys()


_NORMALISED = re.compile(r"(?:[a-z0-9]+(?: [a-z0-9]+)*)?")
