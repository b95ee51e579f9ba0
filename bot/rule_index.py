"""Which red-flag rules could match a message, found by a set lookup.

Triage runs a few hundred regular expressions; most messages contain no key
word of any of them. Each rule is keyed on a word group every match must
contain, so a message is checked only against rules whose key it holds
(tests check the result equals running every rule).
"""

from __future__ import annotations

import re
from collections.abc import Sequence


class CueIndex:
    """Which rules could match a message, from one word each rule must contain.

    A rule is a sequence of words, word groups and gaps; any match contains a
    word of each group that is not optional. For each rule the group of rarest
    words is its key: a message with no key word of a rule cannot match it, so
    most messages are cleared by a set lookup instead of a few hundred regular
    expressions. Rules whose parts are not plain words are always checked.
    """

    def __init__(self, categories: Sequence[Sequence[re.Pattern[str]]]) -> None:
        """`categories`: each category's compiled rules, in order."""
        # A rule is (category number, rule number within the category).
        self.words: dict[str, set[tuple[int, int]]] = {}
        self.prefixes: dict[str, set[tuple[int, int]]] = {}
        self.always: set[tuple[int, int]] = set()
        for c, patterns in enumerate(categories):
            for r, pattern in enumerate(patterns):
                keys = _key_words(pattern.pattern)
                if keys is None:
                    self.always.add((c, r))
                    continue
                for word, is_prefix in keys:
                    table = self.prefixes if is_prefix else self.words
                    table.setdefault(word, set()).add((c, r))
        self.prefix_lengths = sorted({len(p) for p in self.prefixes})

    def rules_for(self, text: str) -> dict[int, list[int]]:
        """The rules worth running on this text, as category -> rule numbers."""
        found = set(self.always)
        for word in set(text.split()):
            found.update(self.words.get(word, ()))
            for length in self.prefix_lengths:
                if length > len(word):
                    break
                found.update(self.prefixes.get(word[:length], ()))
        by_category: dict[int, list[int]] = {}
        for c, r in sorted(found):
            by_category.setdefault(c, []).append(r)
        return by_category


# Words too common to key a rule on: a rule is keyed on its rarest group.
_COMMON = frozenset(
    "i my me he she his her him they them their it is am are was were be been being "
    "the a an and or to of in on at for with from up down out can could will would "
    "not no do does did have has had just so very really keep keeps keeping getting "
    "get got go going went feel feels feeling felt like think know now still again "
    "when what how if this that there here one side back".split())


def _key_words(compiled: str) -> list[tuple[str, bool]] | None:
    """The rarest required group of a compiled rule, or None if none is plain."""
    body = compiled.removeprefix(_WRAPPER)
    if body.endswith(")(?!\\S)"):
        body = body[: -len(")(?!\\S)")]
    best: list[tuple[str, bool]] | None = None
    best_cost = None
    for element, optional in _elements(body):
        if optional:
            continue
        heads = _heads(element)
        if not heads:
            continue
        cost = (sum(w in _COMMON for w, _ in heads), len(heads))
        if best_cost is None or cost < best_cost:
            best, best_cost = heads, cost
    return best


def _elements(body: str) -> list[tuple[str, bool]]:
    """Top-level parts of a rule body, each with whether it is optional."""
    parts: list[tuple[str, bool]] = []
    depth, start, index = 0, 0, 0
    while index <= len(body):
        char = body[index] if index < len(body) else " "
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == " " and depth == 0:
            part = body[start:index]
            if part:
                optional = part.endswith(("?", "*")) and not part.endswith(("s?", "\\w*"))
                # "(en )?(el )?(?:pecho|...)": a part holding an optional group
                # does not need that group's words, and its heads are the
                # optional group's; it cannot key the rule.
                optional = optional or _has_optional_group(part)
                gap = part.startswith("(?: \\S+)")
                if not gap:
                    parts.append((part.rstrip("?*") if optional else part, optional))
            start = index + 1
        index += 1
    return parts


def _has_optional_group(part: str) -> bool:
    depth = 0
    for index, char in enumerate(part):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0 and part[index + 1:index + 2] in ("?", "*"):
                return True
    return False


_WRAPPER = "(?<!\\S)(?:"
_HEAD = re.compile(r"([a-z0-9]+)(s\?|\\w\*)?(?=$| |\(\?[:!]|\))")


def _first_words(compiled: str) -> list[tuple[str, bool]] | None:
    """The words a compiled rule can start with, as (word, is_prefix), or None."""
    return _heads(compiled.removeprefix(_WRAPPER))


def _heads(source: str) -> list[tuple[str, bool]] | None:
    if source.startswith("("):
        if source.startswith("(?") and not source.startswith("(?:"):
            return None  # a lookaround first: no word to start from
        body = source[3:] if source.startswith("(?:") else source[1:]
        depth, end = 1, len(body)
        for index, char in enumerate(body):
            depth += {"(": 1, ")": -1}.get(char, 0)
            if depth == 0:
                end = index
                break
        words: list[tuple[str, bool]] = []
        for alternative in _top_level_split(body[:end]):
            found = _heads(alternative)
            if found is None:
                return None
            words += found
        return words
    head = _HEAD.match(source)
    if not head:
        return None
    word, suffix = head.group(1), head.group(2)
    if suffix == "s?":
        return [(word, False), (word + "s", False)]
    return [(word, suffix == "\\w*")]


def _top_level_split(group: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for index, char in enumerate(group):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "|" and depth == 0:
            parts.append(group[start:index])
            start = index + 1
    parts.append(group[start:])
    return parts
