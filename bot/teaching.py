"""Use cases behind the staff console, the corpus poller and the CLI: teach
the bot from a ticket, reload the corpus, follow another replica's teaching.

Everything here is synchronous and may take seconds (a 47k-entry corpus takes
about ten to index): the web layer calls it in a worker thread, never on the
event loop. One lock keeps two edits or reloads from interleaving; the engine
swaps its index whole, so replies go on meanwhile with the old one.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from . import teach
from .corpus import Corpus, load_corpus
from .domain import PROCEDURES, TOPICS, Ticket
from .engine import Bot

log = logging.getLogger("faqbot")
MAX_PHRASING_CHARS = 300


class CorpusRecord(Protocol):
    """Where replicas record the corpus version last taught (the ticket store)."""

    def corpus_version(self) -> str | None: ...

    def set_corpus_version(self, version: str) -> None: ...

    def audit(self, username: str, action: str, ticket_id: str | None = None,
              detail: str | None = None) -> None: ...

    def set_status(self, ticket_id: str, status: str, by: str) -> bool: ...


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


class Teaching:
    def __init__(self, bot: Bot, record: CorpusRecord, corpus_path: str | Path) -> None:
        self.bot = bot
        self.record = record
        self.corpus_path = Path(corpus_path)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """Teaching edits YAML files: a .jsonl corpus cannot be taught."""
        return self.corpus_path.is_dir()

    # ------------------------------------------------------------ reload

    def reload(self) -> Corpus:
        """Load the corpus from disk and swap the engine's index (slow: a thread)."""
        with self._lock:
            return self._reload()

    def _reload(self) -> Corpus:
        corpus = load_corpus(self.corpus_path)
        if corpus.version != self.bot.corpus.version:
            self.bot.load_corpus(corpus)
        return corpus

    def sync(self, last_seen: str | None) -> str | None:
        """Reload if another replica recorded a new version; returns the version now seen."""
        recorded = self.record.corpus_version()
        if recorded is None or recorded == last_seen:
            return last_seen
        if recorded != self.bot.corpus.version:
            with self._lock:
                before = self.bot.corpus.version
                corpus = self._reload()
            if corpus.version != before:
                log.info("corpus reloaded: %s (recorded %s)", corpus.version, recorded)
            if corpus.version != recorded:
                log.warning("corpus on disk is %s but %s was taught; do the replicas share "
                            "one corpus directory?", corpus.version, recorded)
        return recorded

    # ------------------------------------------------------------ teaching

    def choices(self, ticket: Ticket) -> list[Choice]:
        """The ticket's candidates and a fresh ranking of its message, best first."""
        by_id = self.bot.corpus.by_id
        found: dict[str, tuple[float, str]] = {}
        for c in ticket.candidates:
            if c.faq_id in by_id:
                found[c.faq_id] = (c.score, "at the time")
        for m in self.bot.rank(ticket.message)[:5]:
            if m.faq_id in by_id and m.faq_id not in found:
                found[m.faq_id] = (m.score, "now")
        ranked = sorted(found.items(), key=lambda item: -item[1][0])
        return [Choice(k, by_id[k].question, s, w) for k, (s, w) in ranked]

    def add_phrasing(self, ticket: Ticket, entry_id: str, phrasing: str,
                     username: str) -> Taught:
        """The ticket's message (as staff tidied it) becomes another way of asking."""
        phrasing = " ".join(phrasing.split()) or ticket.message
        if not entry_id:
            raise ValueError("Choose the existing question it means.")
        if len(phrasing) > MAX_PHRASING_CHARS:
            raise ValueError("Keep the wording under 300 characters.")
        with self._lock:
            file = teach.add_alternate(self.corpus_path, entry_id, phrasing)
            self._publish()
        return self._done(ticket, username, Taught(
            "taught", entry_id, f"alternate of {entry_id} in {file.name}: {phrasing}"))

    def add_entry(self, ticket: Ticket, question: str, answer: str, procedure: str,
                  topic: str, username: str) -> Taught:
        """A new staff-drafted entry, live at once; the patient's words are an alternate."""
        question = " ".join(question.split())
        answer = answer.strip()
        if not question or not answer:
            raise ValueError("A new entry needs both a question and an answer.")
        if procedure not in PROCEDURES or topic not in TOPICS:
            raise ValueError("Choose a procedure and a topic from the lists.")
        with self._lock:
            entry_id = teach.new_entry_id(set(self.bot.corpus.by_id), procedure, question)
            entry = {"id": entry_id,
                     **teach.staff_draft(question, answer, topic, [ticket.message])}
            file = teach.add_entry(self.corpus_path, procedure, entry)
            self._publish()
        return self._done(ticket, username, Taught(
            "drafted", entry_id, f"new entry {entry_id} in {file.name}: {question}"))

    def _publish(self) -> None:
        corpus = self._reload()
        # Other replicas poll this record and reload the same corpus directory.
        self.record.set_corpus_version(corpus.version)

    def _done(self, ticket: Ticket, username: str, taught: Taught) -> Taught:
        self.record.audit(username, "teach", ticket.id, taught.detail)
        self.record.set_status(ticket.id, "resolved", username)
        return taught


__all__ = ["Choice", "CorpusRecord", "Taught", "Teaching"]
