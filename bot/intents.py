"""Non-FAQ intents: smalltalk, requests for a person, and out-of-scope requests.

Patterns are data (`intents/*.yaml`, syntax in `bot/patterns.py`). Messages
are normalised and typo-corrected towards the patterns' own words, the same
way as for emergencies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .normalise import normalise, tokens
from .patterns import compile_pattern, pattern_words
from .spelling import Speller

SMALLTALK = ("greeting", "thanks", "goodbye")


@dataclass(frozen=True)
class IntentMatch:
    name: str  # greeting, thanks, goodbye, handoff, personal or out_of_scope


@dataclass(frozen=True)
class Intents:
    smalltalk: dict[str, tuple[str, ...]]
    smalltalk_filler: frozenset[str]
    smalltalk_replies: dict[str, str]
    handoff: tuple[re.Pattern[str], ...]
    handoff_replies: dict[str, str]
    out_of_scope: tuple[re.Pattern[str], ...]
    out_of_scope_reply: str
    personal: tuple[re.Pattern[str], ...] = ()
    personal_reply: str = ""

    @classmethod
    def from_dir(cls, directory: str | Path) -> Intents:
        directory = Path(directory)
        small = _load(directory / "smalltalk.yaml")
        handoff = _load(directory / "handoff.yaml")
        scope = _load(directory / "out_of_scope.yaml")
        personal = _load(directory / "personal.yaml")
        smalltalk = {}
        replies = {}
        for name in SMALLTALK:
            spec = small["intents"][name]
            smalltalk[name] = tuple(normalise(str(k)) for k in spec["keywords"])
            replies[name] = str(spec["reply"])
        return cls(
            smalltalk=smalltalk,
            smalltalk_filler=frozenset(normalise(str(w)) for w in small.get("filler", [])),
            smalltalk_replies=replies,
            handoff=tuple(compile_pattern(p) for p in handoff["patterns"]),
            handoff_replies={k: str(handoff[k]) for k in ("reply_in_hours", "reply_after_hours")},
            out_of_scope=tuple(compile_pattern(p) for p in scope["patterns"]),
            out_of_scope_reply=str(scope["reply"]),
            personal=tuple(compile_pattern(p) for p in personal["patterns"]),
            personal_reply=str(personal["reply"]),
        )


def _load(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot load intents file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping")
    return data


class IntentMatcher:
    def __init__(self, intents: Intents) -> None:
        self.intents = intents
        words = pattern_words([*intents.handoff, *intents.out_of_scope, *intents.personal])
        for keywords in intents.smalltalk.values():
            words.update(w for k in keywords for w in k.split())
        self.speller = Speller(words)
        # Longest keywords first, so "thank you" is consumed before "you".
        self._smalltalk = sorted(
            ((k, name) for name, keys in intents.smalltalk.items() for k in keys),
            key=lambda pair: -len(pair[0]),
        )
        # A word outside every keyword and the fillers survives the keyword
        # removal below and makes the message more than smalltalk.
        self._smalltalk_words = frozenset(
            w for k, _ in self._smalltalk for w in k.split()) | frozenset(
            intents.smalltalk_filler)

    def prepare(self, text: str) -> str:
        return " ".join(self.speller.correct(tokens(normalise(text))))

    def match(self, text: str) -> IntentMatch | None:
        """The first intent that fits: handoff, smalltalk, personal, then out of scope."""
        prepared = self.prepare(text)
        if not prepared:
            return None
        if any(p.search(prepared) for p in self.intents.handoff):
            return IntentMatch("handoff")
        smalltalk = self._smalltalk_kind(prepared)
        if smalltalk:
            return IntentMatch(smalltalk)
        if any(p.search(prepared) for p in self.intents.personal):
            return IntentMatch("personal")
        if any(p.search(prepared) for p in self.intents.out_of_scope):
            return IntentMatch("out_of_scope")
        return None

    def _smalltalk_kind(self, prepared: str) -> str | None:
        """The smalltalk kind if the message is made only of smalltalk words."""
        if not self._smalltalk_words.issuperset(prepared.split()):
            return None
        rest = f" {prepared} "
        found: set[str] = set()
        for keyword, name in self._smalltalk:
            if f" {keyword} " in rest:
                found.add(name)
                rest = rest.replace(f" {keyword} ", " ")
        if not found or any(w not in self.intents.smalltalk_filler for w in rest.split()):
            return None
        return next(name for name in ("goodbye", "thanks", "greeting") if name in found)


@dataclass(frozen=True)
class SpanishIntents:
    handoff: tuple[re.Pattern[str], ...]
    smalltalk: dict[str, tuple[str, ...]]

    @classmethod
    def from_file(cls, path: Path) -> SpanishIntents:
        with path.open(encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
        return cls(tuple(compile_pattern(p) for p in data.get("handoff", [])),
                   {k: tuple(normalise(w) for w in v)
                    for k, v in (data.get("smalltalk") or {}).items()})

    def match(self, text: str) -> str | None:
        words = normalise(text)
        if any(p.search(words) for p in self.handoff):
            return "handoff"
        if len(words.split()) <= 4:
            for name, phrases in self.smalltalk.items():
                if any(f" {p} " in f" {words} " for p in phrases):
                    return name
        return None
