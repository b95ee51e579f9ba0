"""`Bot.reply`: one patient message in, one reply out.

The flow runs one way: safety check, intents, retrieval, decision, reply,
record. The engine never sees an HTTP object; channels translate to and from
it. Identifiers are redacted before any turn is kept or any ticket written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache, partial
from pathlib import Path
from typing import overload

import numpy as np

from .analysis import Analyzer
from .candidates import scored_candidates, shortlist
from .context import in_context
from .corpus import Corpus
from .domain import FaqEntry, Match, Reply, SessionState, Suggestion, Turn
from .empathy import Empathy
from .index import Index, build_index
from .intents import IntentMatcher, SpanishIntents
from .language import detect
from .normalise import valid_text
from .outbox import ResilientSessions, ResilientTickets
from .policy import Decision, Thresholds, decide_calibrated
from .ranker import (
    MODEL_ES_PATH,
    Context,
    Featurizer,
    OperatingPoint,
    RankerModel,
    TopicCues,
)
from .red_flag_replies import red_flag_text, spanish_red_flag_text
from .redact import redact
from .retriever import Retriever
from .session_tokens import new_session_id
from .sessions import MemorySessionStore, SessionStore
from .spelling import is_english_word
from .texts import ENGLISH, REPLY_HOURS_ES, SPANISH
from .tickets import MemoryTickets, TicketSink
from .triage import SEVERITY, RedFlag, Triage


@dataclass(frozen=True)
class BotSettings:
    emergency_number: str = "911"
    on_call_number: str = ""
    reply_hours: str = "one working day"
    office_hours: tuple[int, int] = (8, 17)  # local hours, Monday to Friday
    thresholds: Thresholds = field(default_factory=Thresholds)


class Bot:
    def __init__(
        self,
        corpus: Corpus,
        triage: Triage,
        intents: IntentMatcher,
        *,
        settings: BotSettings | None = None,
        sessions: SessionStore | None = None,
        tickets: TicketSink | None = None,
        clock: type[dt.datetime] = dt.datetime,
        index_cache: Path | None = None,
        topic_cues: TopicCues | None = None,
        ranker: RankerModel | None = None,
        spanish: tuple[Triage, SpanishIntents, Corpus | None] | None = None,
        empathy: Empathy | None = None,
    ) -> None:
        self.settings = settings or BotSettings()
        self.empathy = empathy or Empathy({})
        self.index_cache = index_cache
        self.triage = triage
        self.intents = intents
        self.sessions = sessions or MemorySessionStore()
        self.tickets = tickets or MemoryTickets()
        # What the reply path uses: a storage failure is logged, never raised.
        self._memory = ResilientSessions(self.sessions)
        self.outbox = ResilientTickets(self.tickets)
        self._clock = clock
        self.topic_cues = topic_cues or TopicCues({})
        self.ranker = ranker or RankerModel.load(corpus_hash=corpus.version)
        self.ranker_es: RankerModel | None = (
            RankerModel.load(MODEL_ES_PATH) if ranker is None and MODEL_ES_PATH.exists()
            else None)
        self.triage_es: Triage | None = spanish[0] if spanish else None
        self._red_flags_memo = lru_cache(maxsize=256)(self._red_flags_of)
        self.intents_es: SpanishIntents | None = spanish[1] if spanish else None
        spanish_corpus = spanish[2] if spanish else None
        self._index_es: Index | None = None
        self.load_corpus(corpus, spanish_corpus)

    def ranker_for(self, index: Index | None) -> RankerModel:
        if index is not None and index is self._index_es and self.ranker_es is not None:
            return self.ranker_es
        return self.ranker

    def point_for(self, index: Index | None) -> OperatingPoint:
        if index is not None and index is self._index_es and self.ranker_es is not None:
            return self.ranker_es.operating_point
        return self.operating_point

    @property
    def operating_point(self) -> OperatingPoint:
        point = self.ranker.operating_point
        chosen = self.settings.thresholds
        return replace(point, answer=chosen.answer or point.answer,
                       risky_answer=chosen.risky_answer or point.risky_answer)

    def load_corpus(self, corpus: Corpus, spanish: Corpus | None = None) -> None:
        """Build (or load) a new index and swap it in whole, so a reply never sees
        half of one. The Spanish twins, when given, get an index of their own."""
        self._index = build_index(corpus, self.index_cache, self.topic_cues)
        if spanish is not None:
            self._index_es = build_index(spanish, self.index_cache, TopicCues({}))

    @property
    def corpus(self) -> Corpus:
        return self._index.corpus

    @property
    def corpus_es(self) -> Corpus | None:
        return self._index_es.corpus if self._index_es else None

    @property
    def analyzer(self) -> Analyzer:
        return self._index.analyzer

    @property
    def retriever(self) -> Retriever:
        return self._index.retriever

    @property
    def featurizer(self) -> Featurizer:
        return self._index.featurizer

    def check_red_flags(self, text: str) -> RedFlag | None:
        """Both languages' red flags, the most severe first: a Spanish speaker
        may write "chest pain", an English one "me duele el pecho".

        Remembered for recent messages: the web layer checks a message to
        spare it the rate limit, then `reply` checks the same text again.
        """
        return self._red_flags_memo(text)

    def _red_flags_of(self, text: str) -> RedFlag | None:
        if self.triage_es is None:
            return self.triage.check(text)
        # Each language's typo correction only for its own messages: an English
        # rule must not read "colapsado" as "collapsed".
        spanish = detect(text) == "es"
        found = [f for f in (self.triage.check(text, typos=not spanish),
                             self.triage_es.check(text, typos=spanish)) if f]
        return max(found, key=lambda f: SEVERITY[f.tier]) if found else None

    # ------------------------------------------------------------------ reply

    def reply(self, text: str, session_id: str | None = None) -> Reply:
        text = valid_text(text)
        # Red flags first, before storage is touched: nothing may delay them.
        red_flag = self.check_red_flags(text)
        session_id = session_id or new_session_id()
        index = self._index
        analyzer = index.analyzer
        state = self._memory.load(session_id)
        redacted = redact(text)
        language = "en"
        if self.triage_es is not None:
            language = detect(text, state.language if state.turns else None)
        state.language = language
        disclaimer = None
        if not state.disclaimer_shown:
            template = (SPANISH if language == "es" else ENGLISH)["disclaimer"]
            disclaimer = template.format(emergency_number=self.settings.emergency_number)
            state.disclaimer_shown = True
        # Every reply of this turn carries the session, the corpus version, the
        # language and, on the first turn only, the disclaimer.
        base = partial(Reply, session_id=session_id, corpus_version=index.corpus.version,
                       disclaimer=disclaimer, language=language)

        if red_flag:
            reply = self._red_flag(red_flag, state, redacted, base, language)
            return self._finish(state, redacted, reply)
        state.red_flag_ticket = None  # the episode is over
        if language == "es":
            return self._finish(state, redacted, self._reply_spanish(text, state, redacted,
                                                                     base))

        prepared = analyzer.prepare(text)
        named = analyzer.procedures_named(prepared)
        route = self.route(text, prepared, named)
        if route == "handoff":
            return self._finish(state, redacted, self._handoff(state, redacted, base, named))
        if route in self.intents.intents.smalltalk_replies:
            reply_text = self.intents.intents.smalltalk_replies[route].format(
                emergency_number=self.settings.emergency_number)
            reply = base(type="smalltalk", text=reply_text, reason=route)
            return self._finish(state, redacted, reply)
        if route == "personal":
            # The bot cannot see records and must not diagnose: the care team answers.
            ticket = self._ticket("fallback", state, redacted, (), named)
            text = self.intents.intents.personal_reply.format(ticket_id=ticket)
            reply = base(type="fallback", text=text, ticket_id=ticket,
                         reason="needs the patient's own care team")
            return self._finish(state, redacted, reply)
        answer = (self._answer_from(index, text, prepared, named, state, redacted, base,
                                    ENGLISH, only_if_confident=route == "doubtful")
                  if route != "out_of_scope" else None)
        if answer is None:
            ticket = self._ticket("fallback", state, redacted, (), named)
            answer = base(type="fallback", text=self.intents.intents.out_of_scope_reply,
                          ticket_id=ticket, reason="out of scope")
        return self._finish(state, redacted, answer)

    def route(self, text: str, prepared: str, named: Sequence[str]) -> str:
        """Where an English message goes after the red-flag check: an intent's
        name (handoff, a smalltalk kind, personal), "out_of_scope",
        "doubtful" (an out-of-scope word, answered only if an entry answers
        it confidently: "can I get an uber home after sedation?") or
        "retrieve". Training uses it to sweep only the messages the answer
        bar decides."""
        intent = self.intents.match(text)
        if intent and intent.name != "out_of_scope":
            return intent.name
        if not _has_known_word(prepared, self._index.analyzer):
            return "out_of_scope"
        return "doubtful" if intent and not named else "retrieve"

    @overload
    def _answer_from(self, index: Index, text: str, prepared: str, named: list[str],
                     state: SessionState, ticket_text: str, base: Callable[..., Reply],
                     texts: dict[str, str]) -> Reply: ...

    @overload
    def _answer_from(self, index: Index, text: str, prepared: str, named: list[str],
                     state: SessionState, ticket_text: str, base: Callable[..., Reply],
                     texts: dict[str, str], *, only_if_confident: bool) -> Reply | None: ...

    def _answer_from(self, index: Index, text: str, prepared: str, named: list[str],
                     state: SessionState, ticket_text: str, base: Callable[..., Reply],
                     texts: dict[str, str], *, only_if_confident: bool = False
                     ) -> Reply | None:
        """Retrieve, decide and reply from one language's index, in its words;
        with `only_if_confident`, None unless the decision is to answer."""
        query, context = self._in_context(text, prepared, named, state, index)
        candidates = self.candidates(query, context, index)
        decision = decide_calibrated(candidates, index.entries, self.point_for(index),
                                     self.settings.thresholds,
                                     procedure_known=bool(context.named or context.remembered))
        if only_if_confident and decision.type != "answer":
            return None
        state.last_query = redact(query)
        reply = self._from_decision(decision, index.entries, state, ticket_text, base,
                                    candidates, named, texts)
        if reply.type == "answer" and reply.procedure and reply.procedure != "general":
            state.procedure = reply.procedure
        elif named:
            state.procedure = named[0]
        return reply

    def _in_context(self, text: str, prepared: str, named: list[str],
                    state: SessionState, index: Index | None = None) -> tuple[str, Context]:
        return in_context(text, prepared, named, state, index or self._index)

    def rank(self, text: str, procedure: str | None = None) -> list[Match]:
        """Candidates for a question, most likely first; `score` is the
        calibrated probability that the candidate answers it."""
        named = self.analyzer.procedures_named(self.analyzer.prepare(text))
        context = Context(named=tuple(named)) if named else Context(remembered=procedure)
        return self.candidates(text, context)

    def shortlist(self, prepared: str, context: Context,
                  index: Index | None = None) -> tuple[np.ndarray, list[Match]]:
        return shortlist(index or self._index, prepared, context,
                         self.settings.thresholds.context_boost)

    def candidates(self, text: str, context: Context, index: Index | None = None
                   ) -> list[Match]:
        index = index or self._index
        return scored_candidates(index, self.ranker_for(index), text, context,
                                 self.settings.thresholds.context_boost)

    # ------------------------------------------------------------- reply kinds

    def _from_decision(
        self,
        decision: Decision,
        entries: dict[str, FaqEntry],
        state: SessionState,
        redacted: str,
        base: Callable[..., Reply],
        matches: list[Match],
        named: list[str],
        texts: dict[str, str],
    ) -> Reply:
        if decision.type == "answer" and decision.match:
            entry = entries[decision.match.faq_id]
            # Related questions: the next likely candidates, then the entry's own follow-ups.
            related = [m.faq_id for m in decision.suggestions]
            related += [f for f in entry.follow_ups if f in entries and f not in related]
            follow = tuple(Suggestion(f, entries[f].question) for f in related[:3])
            return base(
                type="answer", text=entry.answer, faq_id=entry.id, procedure=entry.procedure,
                topic=entry.topic, confidence=decision.match.score, suggestions=follow,
                sources=entry.sources, reason=decision.reason,
            )
        suggestions = tuple(
            Suggestion(m.faq_id, entries[m.faq_id].question) for m in decision.suggestions
        )
        confidence = decision.match.score if decision.match else 0.0
        if decision.type == "clarify":
            key = "which_procedure" if decision.reason == "which procedure" else "clarify"
            return base(
                type="clarify", text=texts[key], confidence=confidence, suggestions=suggestions,
                reason=decision.reason,
            )
        ticket = self._ticket("fallback", state, redacted, matches[:5], named)
        text = texts["fallback"].format(emergency_number=self.settings.emergency_number)
        if suggestions:
            text += texts["fallback_suggestions"]
        return base(type="fallback", text=text, confidence=confidence, suggestions=suggestions,
                    ticket_id=ticket, reason=decision.reason)

    def _red_flag(
        self, flag: RedFlag, state: SessionState, redacted: str, base: Callable[..., Reply],
        language: str = "en",
    ) -> Reply:
        if language == "es":
            reasons = ({c.name: c.reason for c in self.triage_es.categories}
                       if self.triage_es else {})
            text = spanish_red_flag_text(flag, self.settings, reasons)
        else:
            text = red_flag_text(flag, self.settings)
        kind = "urgent" if flag.tier == "urgent" else "emergency"
        if language != "en":
            redacted = f"[{language}] {redacted}"
        if state.red_flag_ticket:
            # The same episode: one ticket, with a count, not a new one per message.
            self.outbox.note_repeat(state.red_flag_ticket, redacted)
            ticket = state.red_flag_ticket
        else:
            ticket = self._ticket(kind, state, redacted, (), [], urgent=True,
                                  reason=flag.category)
            state.red_flag_ticket = ticket
        return base(type=flag.reply_type, text=text, confidence=1.0, ticket_id=ticket,
                    reason=flag.category)

    def _reply_spanish(self, text: str, state: SessionState, redacted: str,
                       base: Callable[..., Reply]) -> Reply:
        """A Spanish message: Spanish intents, then the Spanish twins; never an
        English answer. The ticket records the language, so staff can reply in it."""
        number = self.settings.emergency_number
        tagged = f"[es] {redacted}"
        intent = self.intents_es.match(text) if self.intents_es else None
        if intent == "handoff":
            ticket = self._ticket("handoff", state, tagged, (), [])
            key = "handoff_in_hours" if self.in_office_hours() else "handoff_after_hours"
            on_call = f" ({self.settings.on_call_number})" if self.settings.on_call_number else ""
            reply_text = SPANISH[key].format(ticket_id=ticket, reply_hours=REPLY_HOURS_ES,
                                             on_call=on_call, emergency_number=number)
            return base(type="handoff", text=reply_text, ticket_id=ticket,
                        reason="asked for a person")
        if intent:
            return base(type="smalltalk", text=SPANISH[intent], reason=intent)
        index = self._index_es
        if index is None:
            ticket = self._ticket("fallback", state, tagged, (), [])
            return base(type="fallback", text=SPANISH["no_twin"].format(emergency_number=number),
                        ticket_id=ticket, reason="no Spanish content")
        prepared = index.analyzer.prepare(text)
        named = index.analyzer.procedures_named(prepared)
        return self._answer_from(index, text, prepared, named, state, tagged, base, SPANISH)

    def _handoff(
        self, state: SessionState, redacted: str, base: Callable[..., Reply], named: list[str]
    ) -> Reply:
        ticket = self._ticket("handoff", state, redacted, (), named)
        replies = self.intents.intents.handoff_replies
        key = "reply_in_hours" if self.in_office_hours() else "reply_after_hours"
        on_call = f" at {self.settings.on_call_number}" if self.settings.on_call_number else ""
        text = replies[key].format(
            ticket_id=ticket, reply_hours=self.settings.reply_hours, on_call=on_call,
            emergency_number=self.settings.emergency_number,
        )
        return base(type="handoff", text=text, ticket_id=ticket, reason="asked for a person")

    def knows(self, session_id: str) -> bool:
        """Whether this session has spoken before (in conversation memory)."""
        return bool(self._memory.load(session_id).turns)

    def in_office_hours(self) -> bool:
        now = self._clock.now()
        start, end = self.settings.office_hours
        return now.weekday() < 5 and start <= now.hour < end

    # ---------------------------------------------------------------- record

    def _ticket(
        self,
        kind: str,
        state: SessionState,
        redacted: str,
        candidates: Sequence[Match],
        named: Sequence[str],
        *,
        urgent: bool = False,
        reason: str = "",
    ) -> str:
        procedure = named[0] if named else state.procedure
        asked = "; ".join(t.user for t in state.turns[-3:])
        answered = ", ".join(t.faq_id for t in state.turns[-3:] if t.faq_id)
        summary = (f"{kind}{' (' + reason + ')' if reason else ''}; procedure: "
                   f"{procedure or 'unknown'}; earlier: {asked or 'nothing'}; "
                   f"bot answered: {answered or 'nothing'}")
        ticket_id = self.outbox.open_ticket(
            kind=kind, session_id=state.session_id, message=redacted,
            turns=list(state.turns), candidates=list(candidates), procedure=procedure,
            urgent=urgent, summary=summary,
        )
        state.open_ticket_ids.append(ticket_id)
        return ticket_id

    def _finish(self, state: SessionState, redacted: str, reply: Reply) -> Reply:
        warm = (self.empathy.sentence(redacted, reply.language)
                if reply.type in ("answer", "clarify", "fallback") else None)
        if warm:
            # Fear, worry or pain heard first, then the facts; never instead.
            reply = replace(reply, text=f"{warm} {reply.text}")
        state.turns.append(Turn(redacted, reply.text, reply.type, reply.faq_id))
        if reply.type == "answer":
            state.last_faq_id = reply.faq_id
        self._memory.save(state)
        return reply


def _has_known_word(prepared: str, analyzer: Analyzer) -> bool:
    """False for gibberish: no word the corpus or everyday English knows."""
    vocabulary = analyzer.speller.vocabulary
    return any(
        (w in vocabulary or is_english_word(w)) and len(w) > 1 for w in prepared.split()
    )
