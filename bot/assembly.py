"""Builds a ready `Bot` from settings: corpus, intents, detector, stores."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from .config import NO_ON_CALL, Settings
from .corpus import load_corpus
from .empathy import Empathy
from .engine import Bot, BotSettings
from .intents import IntentMatcher, Intents, SpanishIntents
from .language import warm as warm_language_detector
from .policy import Thresholds
from .ranker import RankerModel, TopicCues
from .sessions import MemorySessionStore, SessionStore
from .spanish import load_twins
from .tickets import TicketSink
from .triage import Triage


def bot_settings(settings: Settings) -> BotSettings:
    return BotSettings(
        emergency_number=settings.emergency_number,
        on_call_number=("" if settings.on_call_number.strip().lower() == NO_ON_CALL
                        else settings.on_call_number),
        reply_hours=settings.reply_hours,
        office_hours=settings.office_hours,
        thresholds=Thresholds(
            answer=settings.answer_threshold,
            risky_answer=settings.risky_threshold,
            context_boost=settings.context_boost,
        ),
    )


def clinic_clock(zone: str) -> type[dt.datetime]:
    """A clock whose now() is the clinic's wall time: office hours are the
    clinic's, not the server's (servers often run in UTC)."""
    where = ZoneInfo(zone)

    class ClinicClock(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> ClinicClock:
            moment = dt.datetime.now(tz or where)
            return cls.fromtimestamp(moment.timestamp(), moment.tzinfo)

    return ClinicClock


def build_bot(
    settings: Settings,
    *,
    tickets: TicketSink | None = None,
    sessions: SessionStore | None = None,
    ranker: RankerModel | None = None,
) -> Bot:
    intents_dir = Path(settings.intents)
    corpus = load_corpus(settings.corpus)
    spanish = None
    if (intents_dir / "red_flags_es.yaml").exists():
        # Spanish safety and intents always; Spanish answers where twins exist.
        twins = load_twins(settings.corpus, corpus) if Path(settings.corpus).is_dir() else None
        spanish = (Triage.from_file(intents_dir / "red_flags_es.yaml"),
                   SpanishIntents.from_file(intents_dir / "spanish.yaml"),
                   twins if twins and twins.entries else None)
        warm_language_detector()
    return Bot(
        corpus,
        Triage.from_file(intents_dir / "red_flags.yaml"),
        IntentMatcher(Intents.from_dir(intents_dir)),
        settings=bot_settings(settings),
        sessions=sessions or MemorySessionStore(settings.session_ttl, settings.max_sessions),
        tickets=tickets,
        clock=clinic_clock(settings.clinic_timezone),
        index_cache=Path(settings.data_dir) / "index" if settings.index_cache else None,
        topic_cues=TopicCues.from_file(intents_dir / "topic_cues.yaml"),
        ranker=ranker,
        spanish=spanish,
        empathy=Empathy.from_file(intents_dir / "empathy.yaml"),
    )
