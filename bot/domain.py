"""The shared vocabulary of the bot: frozen records passed between modules.

Standard library only, so every other module can import it without pulling in
scikit-learn, aiohttp or a database driver.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

PROCEDURES: tuple[str, ...] = (
    "general",
    "angioplasty-stenting",
    "embolization",
    "uterine-fibroid-embolization",
    "chemoembolization",
    "radiofrequency-ablation",
    "image-guided-biopsy",
    "vertebroplasty-kyphoplasty",
    "pain-injections",
    "stroke-thrombectomy",
    "cardiac-catheterization",
    "cardiac-ablation",
    "structural-heart",
    "aneurysm-coiling",
    "vascular-access",
    "drains",
    "paracentesis-thoracentesis",
    "dialysis-access",
    "vein-ablation",
    "ivc-filter",
    "prostate-artery-embolization",
    "genicular-artery-embolization",
)

TOPICS: tuple[str, ...] = (
    "overview",
    "preparation",
    "procedure",
    "risks",
    "recovery",
    "warning-signs",
    "results",
    "alternatives",
    "logistics",
)

REPLY_TYPES: tuple[str, ...] = (
    "answer",
    "clarify",
    "fallback",
    "handoff",
    "emergency",
    "urgent",
    "smalltalk",
)


@dataclass(frozen=True)
class Source:
    name: str
    url: str = ""


@dataclass(frozen=True)
class FaqEntry:
    id: str
    question: str
    answer: str
    procedure: str | None = None
    topic: str | None = None
    alternates: tuple[str, ...] = ()
    follow_ups: tuple[str, ...] = ()
    sources: tuple[Source, ...] = ()
    owner: str | None = None
    reviewed: dt.date | None = None
    review_by: dt.date | None = None
    file: str | None = None

    def phrasings(self) -> tuple[str, ...]:
        """Every way of asking this entry: the question first, then alternates."""
        return (self.question, *self.alternates)


@dataclass(frozen=True)
class Match:
    """One retrieval candidate: an entry id and its similarity in [0, 1]."""

    faq_id: str
    score: float


@dataclass(frozen=True)
class Suggestion:
    faq_id: str
    question: str


@dataclass(frozen=True)
class Reply:
    """What the bot says back; `to_json` gives the contract's reply object."""

    session_id: str
    type: str
    text: str
    faq_id: str | None = None
    procedure: str | None = None
    topic: str | None = None
    confidence: float = 0.0
    suggestions: tuple[Suggestion, ...] = ()
    ticket_id: str | None = None
    # Beyond the contract's fields: which wording the patient saw, and why.
    corpus_version: str | None = None
    reason: str | None = None
    sources: tuple[Source, ...] = ()
    disclaimer: str | None = None
    # Set by the channel that owns the session (see bot/session_tokens.py).
    session_token: str = ""
    language: str = "en"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["confidence"] = round(float(self.confidence), 4)
        data["suggestions"] = [asdict(s) for s in self.suggestions]
        data["sources"] = [asdict(s) for s in self.sources]
        return data


@dataclass(frozen=True)
class Turn:
    """One exchange kept in a session, already redacted."""

    user: str
    bot: str
    type: str
    faq_id: str | None = None


@dataclass
class SessionState:
    """Per-conversation memory: the procedure under discussion and recent turns."""

    session_id: str
    procedure: str | None = None
    last_faq_id: str | None = None
    disclaimer_shown: bool = False
    turns: list[Turn] = field(default_factory=list)
    open_ticket_ids: list[str] = field(default_factory=list)
    red_flag_ticket: str | None = None
    # The question as last understood ("and for a biopsy?" means the one before).
    last_query: str | None = None
    language: str = "en"
