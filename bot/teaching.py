"""Use cases behind the staff console, the corpus poller and the CLI: teach
the bot from a ticket, reload the corpus, follow another replica's teaching.

Teaching is draft, review, publish: what staff teach is kept in the store as
a draft, which the engine never loads. A clinician who did not write it sees
the corpus diff and how the bot's answers would change, then publishes it
(written to the corpus files, every replica reloads) or rejects it with a
reason. Each step is audited.

Everything here is synchronous and may take seconds (a 47k-entry corpus takes
about ten to index): the web layer calls it in a worker thread, never on the
event loop. One lock keeps two edits or reloads from interleaving; the engine
swaps its index whole, so replies go on meanwhile with the old one.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import logging
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from . import teach
from .corpus import Corpus, load_corpus
from .domain import PROCEDURES, TOPICS, Reply, Ticket
from .drafts import (
    MAX_ANSWER_WORDS,
    MAX_PREVIEW_QUESTIONS,
    MIN_ALTERNATES,
    REVIEWER_ROLE,
    Change,
    Choice,
    CorpusRecord,
    Draft,
    DraftRecord,
    NotAllowed,
    Preview,
    Taught,
)
from .engine import Bot
from .normalise import normalise
from .outbox import ResilientSessions, ResilientTickets
from .readability import GRADE_LIMIT, grade
from .sessions import MemorySessionStore
from .tickets import MemoryTickets

log = logging.getLogger("faqbot")
MAX_PHRASING_CHARS = 300


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

    def search(self, query: str, procedure: str = "", limit: int = 15) -> list[Choice]:
        """Any entry, by id (whole or part), by procedure, or by words through the
        bot's own retriever: for linking a ticket when its candidates are wrong."""
        query = " ".join(query.split())[:200]
        procedure = procedure if procedure in PROCEDURES else ""
        entries = self.bot.corpus.entries
        by_id = self.bot.corpus.by_id
        found: dict[str, tuple[float, str]] = {}
        if query in by_id:
            found[query] = (1.0, "id")
        lowered = query.lower()
        if lowered and " " not in lowered and len(lowered) >= 3:
            for entry in entries:
                if lowered in entry.id and entry.id not in found:
                    found[entry.id] = (0.0, "id")
        if query:
            for m in self.bot.rank(query, procedure or None)[:limit]:
                if m.faq_id in by_id and m.faq_id not in found:
                    found[m.faq_id] = (m.score, "words")
        elif procedure:
            for entry in entries:
                found.setdefault(entry.id, (0.0, "procedure"))
        chosen = [(k, v) for k, v in found.items()
                  if not procedure or by_id[k].procedure == procedure][:limit * 2]
        return [Choice(k, by_id[k].question, s, how) for k, (s, how) in chosen]

    def add_phrasing(self, ticket: Ticket, entry_id: str, phrasing: str,
                     username: str) -> Taught:
        """The ticket's message (as staff tidied it) as a draft phrasing of an entry."""
        phrasing = " ".join(phrasing.split()) or ticket.message
        spanish = _spanish_words(ticket)
        if spanish and normalise(phrasing) == normalise(spanish):
            # The English corpus would answer Spanish speakers in English: their
            # wording belongs in the Spanish twin (corpus/es/), not edited here.
            raise ValueError("The patient wrote in Spanish: a Spanish wording belongs in the "
                             "entry's Spanish twin (corpus/es/), which the content owner "
                             "edits. Write the English way of asking instead.")
        if not entry_id:
            raise ValueError("Choose the existing question it means.")
        if len(phrasing) > MAX_PHRASING_CHARS:
            raise ValueError("Keep the wording under 300 characters.")
        phrasing = teach.checked(phrasing, "phrasing", teach.MAX_QUESTION_CHARS)
        entry = self.bot.corpus.by_id.get(entry_id)
        if entry is None:
            raise ValueError(f"There is no entry '{entry_id}'.")
        wanted = normalise(phrasing)
        for other in self.bot.corpus.entries:
            if wanted in {normalise(q) for q in (other.question, *other.alternates)}:
                raise ValueError(f"'{phrasing}' is already a way of asking '{other.id}'.")
        draft_id = self._record().add_draft(
            kind="phrasing", entry_id=entry_id, payload={"phrasing": phrasing},
            author=username, ticket_id=ticket.id, procedure=entry.procedure)
        return self._drafted(ticket, username, Taught(
            "draft-phrasing", entry_id, f"draft {draft_id}: phrasing of {entry_id}: {phrasing}"))

    def add_entry(self, ticket: Ticket, question: str, answer: str, procedure: str,
                  topic: str, username: str, *, alternates: str = "", source_name: str = "",
                  source_url: str = "", review_by: str = "") -> Taught:
        """A new staff-written entry as a draft; the patient's words are a phrasing."""
        question = " ".join(question.split())
        answer = answer.strip()
        if not question or not answer:
            raise ValueError("A new entry needs both a question and an answer.")
        if procedure not in PROCEDURES or topic not in TOPICS:
            raise ValueError("Choose a procedure and a topic from the lists.")
        payload = _entry_payload({
            "question": question, "answer": answer, "topic": topic,
            "alternates": [ticket.message] if ticket.message and not _spanish_words(ticket)
                          else [],
            "source_name": source_name, "source_url": source_url, "review_by": review_by,
        }, alternates)
        # Checked now (the same checks as publishing), so staff fix it while they write.
        teach.staff_draft(payload["question"], payload["answer"], topic,
                          payload["alternates"])
        record = self._record()
        taken = set(self.bot.corpus.by_id) | {d["entry_id"] for d in record.list_drafts()}
        entry_id = teach.new_entry_id(taken, procedure, question)
        draft_id = record.add_draft(kind="entry", entry_id=entry_id, payload=payload,
                                    author=username, ticket_id=ticket.id, procedure=procedure)
        return self._drafted(ticket, username, Taught(
            "drafted", entry_id, f"draft {draft_id}: new entry {entry_id}: {question}"))

    def _drafted(self, ticket: Ticket, username: str, taught: Taught) -> Taught:
        self.record.audit(username, "draft", ticket.id, taught.detail)
        return taught

    # ------------------------------------------------------------ review

    def _record(self) -> DraftRecord:
        record = self.record
        if not hasattr(record, "add_draft"):
            raise ValueError("drafts need the ticket store")
        return record  # type: ignore[return-value]

    def drafts(self, status: str | None = "pending",
               ticket_id: str | None = None) -> list[Draft]:
        return [Draft.from_row(r) for r in self._record().list_drafts(status, ticket_id)]

    def draft(self, draft_id: str) -> Draft | None:
        row = self._record().get_draft(draft_id)
        return Draft.from_row(row) if row else None

    def may_review(self, draft: Draft, username: str) -> str:
        """Why `username` may not review `draft`; empty when they may."""
        if self._record().user_role(username) != REVIEWER_ROLE:
            return "Only a clinician may approve or reject drafts."
        if draft.author == username:
            return "A draft is reviewed by a clinician other than its author."
        return ""

    def preview(self, draft: Draft, changes: dict[str, str] | None = None) -> Preview:
        """The corpus diff and the answers that change, on a copy of the corpus
        (slow: builds an index; call it in a thread)."""
        payload = _merged(draft, changes)
        missing = _missing(draft, payload)
        grade_of = grade(payload["answer"]) if draft.kind == "entry" else None
        current = self.bot.corpus
        with tempfile.TemporaryDirectory(prefix="faqbot-draft-") as temp:
            copy_dir = Path(temp) / "corpus"
            shutil.copytree(self.corpus_path, copy_dir)
            try:
                file, before_text = self._apply(draft, payload, copy_dir)
            except ValueError as exc:
                return Preview(error=str(exc), missing=missing, reading_grade=grade_of)
            after_text = file.read_text(encoding="utf-8")
            diff = "".join(difflib.unified_diff(
                before_text.splitlines(keepends=True), after_text.splitlines(keepends=True),
                fromfile=f"corpus/{file.name}", tofile=f"corpus/{file.name} (draft)", n=2))
            after = load_corpus(copy_dir)
        questions = [draft.payload.get("ticket_message", "")]
        if draft.ticket_id and hasattr(self.record, "get_ticket"):
            row = self.record.get_ticket(draft.ticket_id)
            questions = [str(row["message"]).removeprefix("[es] ")] if row else []
        entry = after.by_id.get(draft.entry_id)
        if entry is not None:
            questions += [entry.question, *entry.alternates]
        unique = list(dict.fromkeys(q for q in questions if q.strip()))[:MAX_PREVIEW_QUESTIONS]
        old_bot, new_bot = self._shadow(current), self._shadow(after)
        return Preview(
            file=file.name, diff=diff, missing=missing, reading_grade=grade_of,
            changes=tuple(Change(q, _said(old_bot.reply(q), old_bot),
                                 _said(new_bot.reply(q), new_bot)) for q in unique))

    def _shadow(self, corpus: Corpus) -> Bot:
        """The live bot's triage, intents and ranker on `corpus`, with throw-away
        sessions and tickets: a preview opens no ticket and touches no session."""
        shadow = copy.copy(self.bot)
        shadow.sessions = MemorySessionStore()
        shadow._memory = ResilientSessions(shadow.sessions)  # noqa: SLF001
        shadow.tickets = MemoryTickets()
        shadow.outbox = ResilientTickets(shadow.tickets)
        if corpus.version != self.bot.corpus.version:
            shadow.load_corpus(corpus)
        return shadow

    def _apply(self, draft: Draft, payload: dict[str, Any],
               directory: Path) -> tuple[Path, str]:
        """Write the draft into a corpus directory; (file, its text before)."""
        if draft.kind == "phrasing":
            file = teach._find_entry_file(directory, draft.entry_id)  # noqa: SLF001
            before = file.read_text(encoding="utf-8")
            teach.add_alternate(directory, draft.entry_id, str(payload["phrasing"]))
            return file, before
        procedure = draft.procedure or "general"
        file = directory / f"{procedure}.yaml"
        before = file.read_text(encoding="utf-8") if file.exists() else ""
        review_by = _date(payload.get("review_by"))
        fields = teach.staff_draft(
            payload["question"], payload["answer"], payload["topic"], payload["alternates"],
            source_name=payload.get("source_name") or "Staff answer",
            source_url=payload.get("source_url") or "", review_by=review_by)
        teach.add_entry(directory, procedure, {"id": draft.entry_id, **fields})
        return file, before

    def publish(self, draft_id: str, reviewer: str,
                changes: dict[str, str] | None = None) -> Taught:
        """A clinician approves: the draft goes into the corpus files and every
        replica reloads. `changes` fills in what the corpus rules still need
        (source, review date, more phrasings)."""
        draft = self._pending(draft_id, reviewer)
        payload = _merged(draft, changes)
        missing = _missing(draft, payload)
        if missing:
            raise ValueError("Before publishing: " + "; ".join(missing) + ".")
        with self._lock:
            file, _ = self._apply(draft, payload, self.corpus_path)
            self._publish()
        record = self._record()
        if not record.decide_draft(draft.id, "published", reviewer, payload=payload):
            log.warning("draft %s was decided by someone else meanwhile", draft.id)
        detail = f"published {draft.id} by {draft.author} in {file.name}: {draft.summary}"
        self.record.audit(reviewer, "publish", draft.ticket_id, detail)
        if draft.ticket_id:
            self.record.set_status(draft.ticket_id, "resolved", reviewer)
        notice = "published-phrasing" if draft.kind == "phrasing" else "published"
        return Taught(notice, draft.entry_id, detail)

    def reject(self, draft_id: str, reviewer: str, reason: str) -> Taught:
        """A clinician rejects: the draft is kept, with the reason, and never published."""
        reason = " ".join(reason.split())
        if not reason:
            raise ValueError("Give a reason, so the author can improve the draft.")
        if len(reason) > 1000:
            raise ValueError("Keep the reason under 1000 characters.")
        draft = self._pending(draft_id, reviewer)
        if not self._record().decide_draft(draft.id, "rejected", reviewer, reason=reason):
            raise ValueError("This draft was already decided.")
        detail = f"rejected {draft.id} by {draft.author}: {draft.summary}; reason: {reason}"
        self.record.audit(reviewer, "reject", draft.ticket_id, detail)
        return Taught("rejected", draft.entry_id, detail)

    def _pending(self, draft_id: str, reviewer: str) -> Draft:
        draft = self.draft(draft_id)
        if draft is None:
            raise LookupError(draft_id)
        if draft.status != "pending":
            raise ValueError(f"This draft was already {draft.status}.")
        why = self.may_review(draft, reviewer)
        if why:
            raise NotAllowed(why)
        return draft

    def _publish(self) -> None:
        corpus = self._reload()
        # Other replicas poll this record and reload the same corpus directory.
        self.record.set_corpus_version(corpus.version)


def _spanish_words(ticket: Ticket) -> str:
    """A Spanish speaker's message (the engine tags it "[es] "), else empty."""
    return ticket.message.removeprefix("[es] ") if ticket.message.startswith("[es] ") else ""


def _lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in str(text or "").splitlines() if line.strip()]


def _entry_payload(payload: dict[str, Any], more_alternates: str) -> dict[str, Any]:
    """A draft's fields, tidied: more phrasings (one a line) join the alternates."""
    result = {k: v for k, v in payload.items() if k != "more_alternates"}
    if "alternates" in result or more_alternates:
        known: list[str] = []
        for text in [*result.get("alternates", []), *_lines(more_alternates)]:
            text = " ".join(str(text).split())
            if text and normalise(text) not in {normalise(k) for k in known}:
                known.append(text)
        result["alternates"] = known
    for key in ("source_name", "source_url", "review_by"):
        if key in result:
            result[key] = " ".join(str(result[key] or "").split())
    return result


def _merged(draft: Draft, changes: dict[str, str] | None) -> dict[str, Any]:
    """The draft with what the reviewer filled in (blank fields change nothing)."""
    given = {k: v for k, v in (changes or {}).items() if str(v).strip()}
    if draft.kind != "entry":
        return dict(draft.payload)
    return _entry_payload({**draft.payload, **given}, given.get("more_alternates", ""))


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _missing(draft: Draft, payload: dict[str, Any]) -> tuple[str, ...]:
    """What the corpus rules still need before a new entry may be published."""
    if draft.kind != "entry":
        return ()
    missing = []
    question = normalise(str(payload.get("question", "")))
    phrasings = [a for a in payload.get("alternates", []) if normalise(a) != question]
    if len(phrasings) < MIN_ALTERNATES:
        missing.append(f"at least {MIN_ALTERNATES} other ways of asking "
                       f"({len(phrasings)} so far)")
    if not str(payload.get("source_url", "")).startswith("https://"):
        missing.append("a source URL (https://...) a patient could read")
    if not payload.get("source_name") or payload.get("source_name") == "Staff answer":
        missing.append("the source's name")
    review_by = _date(payload.get("review_by"))
    if review_by is None or review_by <= dt.date.today():
        missing.append("a review date in the future (YYYY-MM-DD)")
    answer = str(payload.get("answer", ""))
    if len(answer.split()) > MAX_ANSWER_WORDS:
        missing.append(f"an answer of at most {MAX_ANSWER_WORDS} words")
    if answer and grade(answer) > GRADE_LIMIT:
        missing.append(f"an answer patients can read: reading grade {grade(answer):.1f}, at "
                       f"most {GRADE_LIMIT:.0f} (shorter sentences, plainer words)")
    return tuple(missing)


def _said(reply: Reply, bot: Bot) -> str:
    """One line for the review page: what kind of reply, and which entry."""
    if reply.type == "answer" and reply.faq_id:
        entry = bot.corpus.by_id.get(reply.faq_id)
        return f"answers with {reply.faq_id}" + (f" ({entry.question})" if entry else "")
    if reply.type == "clarify":
        return "asks which procedure or question is meant"
    if reply.type == "fallback":
        return "cannot answer (a ticket for staff)"
    return reply.type


__all__ = ["Change", "Choice", "CorpusRecord", "Draft", "DraftRecord", "NotAllowed",
           "Preview", "Taught", "Teaching"]
