"""Taught changes waiting for a clinician: what a draft is, what reviewing
it shows, and what teaching needs from the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class CorpusRecord(Protocol):
    """Where replicas record the corpus version last taught (the ticket store)."""

    def corpus_version(self) -> str | None: ...

    def set_corpus_version(self, version: str) -> None: ...

    def audit(self, username: str, action: str, ticket_id: str | None = None,
              detail: str | None = None) -> None: ...

    def set_status(self, ticket_id: str, status: str, by: str) -> bool: ...


class DraftRecord(CorpusRecord, Protocol):
    """Where drafts wait for review, and who may review them (the ticket store)."""

    def add_draft(self, *, kind: str, entry_id: str, payload: dict[str, Any], author: str,
                  ticket_id: str | None = None, procedure: str | None = None) -> str: ...

    def get_draft(self, draft_id: str) -> dict[str, Any] | None: ...

    def list_drafts(self, status: str | None = "pending", ticket_id: str | None = None,
                    limit: int = 200) -> list[dict[str, Any]]: ...

    def decide_draft(self, draft_id: str, status: str, by: str, reason: str | None = None,
                     payload: dict[str, Any] | None = None) -> bool: ...

    def user_role(self, username: str) -> str | None: ...


REVIEWER_ROLE = "clinician"
MIN_ALTERNATES = 5  # the corpus rule every bundled entry meets
MAX_ANSWER_WORDS = 150
MAX_PREVIEW_QUESTIONS = 12


class NotAllowed(PermissionError):
    """The user may not review this draft (not a clinician, or its author)."""


@dataclass(frozen=True)
class Draft:
    """A taught change waiting for review: a phrasing of an entry, or a new entry."""

    id: str
    kind: str  # "phrasing" or "entry"
    status: str  # "pending", "published" or "rejected"
    entry_id: str
    author: str
    payload: dict[str, Any] = field(default_factory=dict)
    ticket_id: str | None = None
    procedure: str | None = None
    created_at: str | None = None
    decided_by: str | None = None
    decided_at: str | None = None
    reason: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Draft:
        return cls(**{k: row.get(k) for k in cls.__dataclass_fields__})  # type: ignore[arg-type]

    @property
    def summary(self) -> str:
        if self.kind == "phrasing":
            return f"another way of asking {self.entry_id}: {self.payload.get('phrasing', '')}"
        return f"new entry {self.entry_id}: {self.payload.get('question', '')}"


@dataclass(frozen=True)
class Change:
    """How the bot answers one question before and after a draft."""

    question: str
    before: str
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclass(frozen=True)
class Preview:
    """What publishing a draft would do: the file's diff and the answers that change."""

    file: str = ""
    diff: str = ""
    changes: tuple[Change, ...] = ()
    missing: tuple[str, ...] = ()  # what the corpus rules still need before publishing
    reading_grade: float | None = None
    error: str = ""


@dataclass(frozen=True)
class Taught:
    """What a teaching step did: a notice key for the console and an audit line."""

    notice: str  # "taught" (another phrasing) or "drafted" (a new entry)
    entry_id: str
    detail: str


@dataclass(frozen=True)
class Choice:
    """An entry staff may teach a ticket's message as: its score and when it was found."""

    faq_id: str
    question: str
    score: float
    found: str  # "at the time" (the ticket's candidates) or "now" (a fresh ranking)
