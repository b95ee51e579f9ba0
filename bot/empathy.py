"""One warm sentence for a message that carries fear, worry or pain.

A frightened patient ("I'm really scared... I can't sleep") should hear that
first, then the facts. The cues and sentences live in
`intents/empathy.yaml`, one list per language, so staff can word them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from .normalise import normalise
from .patterns import compile_pattern


@dataclass(frozen=True)
class Feeling:
    kind: str
    patterns: tuple[re.Pattern[str], ...]
    sentence: str


class Empathy:
    def __init__(self, feelings: dict[str, tuple[Feeling, ...]]) -> None:
        self.feelings = feelings

    @classmethod
    def from_file(cls, path: str | Path) -> Empathy:
        path = Path(path)
        if not path.exists():
            return cls({})
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        feelings: dict[str, tuple[Feeling, ...]] = {}
        for language, kinds in data.items():
            parsed = []
            for item in kinds or []:
                if not item.get("sentence") or not item.get("patterns"):
                    raise ValueError(f"{path}: {language} {item.get('kind')!r} needs "
                                     "patterns and a sentence")
                parsed.append(Feeling(str(item.get("kind", "")),
                                      tuple(compile_pattern(p) for p in item["patterns"]),
                                      str(item["sentence"]).strip()))
            feelings[str(language)] = tuple(parsed)
        return cls(feelings)

    def sentence(self, text: str, language: str = "en") -> str | None:
        """The sentence for the first feeling the message shows, if any."""
        normalised = normalise(text)
        for feeling in self.feelings.get(language, ()):
            if any(p.search(normalised) for p in feeling.patterns):
                return feeling.sentence
        return None
