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


# Reply types that put a person in the loop: the patient was handed over to staff.
HANDED_OVER: tuple[str, ...] = ("handoff", "fallback", "emergency", "urgent")


@dataclass(frozen=True)
class Ticket:
    """A question or event left for staff, as the console and the teaching
    use cases see it (the store keeps it as a row; `from_row` reads one)."""

    id: str
    kind: str
    status: str
    message: str
    session_id: str = ""
    urgent: bool = False
    summary: str = ""
    procedure: str | None = None
    turns: tuple[Turn, ...] = ()
    candidates: tuple[Match, ...] = ()
    created_at: str | None = None
    updated_at: str | None = None
    handled_by: str | None = None
    staff_reply: str | None = None
    notify_error: str | None = None
    repeats: int = 0

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def is_emergency(self) -> bool:
        return self.urgent and self.kind == "emergency"

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Ticket:
        """A ticket from the store's dict; unknown keys are ignored, so a new
        column does not break readers."""
        turns = tuple(
            Turn(user=str(t.get("user") or ""), bot=str(t.get("bot") or ""),
                 type=str(t.get("type") or ""), faq_id=t.get("faq_id"))
            for t in row.get("turns") or () if isinstance(t, dict))
        candidates = tuple(
            Match(str(c["faq_id"]), float(c.get("score") or 0.0))
            for c in row.get("candidates") or () if isinstance(c, dict) and c.get("faq_id"))
        return cls(
            id=str(row["id"]), kind=str(row["kind"]), status=str(row["status"]),
            message=str(row.get("message") or ""), session_id=str(row.get("session_id") or ""),
            urgent=bool(row.get("urgent")), summary=str(row.get("summary") or ""),
            procedure=row.get("procedure"), turns=turns, candidates=candidates,
            created_at=row.get("created_at"), updated_at=row.get("updated_at"),
            handled_by=row.get("handled_by"), staff_reply=row.get("staff_reply"),
            notify_error=row.get("notify_error"), repeats=int(row.get("repeats") or 0))
