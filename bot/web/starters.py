"""Starter questions for an empty chat: GET /api/v1/starters.

An empty chat gives the patient nothing to go on; three to six questions
from the corpus show what can be asked. The questions are the corpus's own
(English entries, or their Spanish twins for `language=es`), never patients'
messages or tickets.

- `procedure=<slug>`: one question per topic of that procedure, in the order
  a patient meets them (what it is, getting ready, the day, recovery,
  warning signs).
- no procedure (or `general`, or a slug the corpus does not know): the
  general questions below, which pre-procedure phone calls ask most (chosen
  by hand: the bot keeps no count of what patients ask by entry yet).

A Spanish list holds only entries with a twin; it is topped up from the
procedure's other entries, never with English text.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..corpus import Corpus
from ..domain import PROCEDURES, FaqEntry
from .keys import BOT

MAX_STARTERS = 5
MIN_STARTERS = 3
LANGUAGES = ("en", "es")
GENERAL = (
    "gen-preparation-fasting",
    "gen-procedure-pain",
    "gen-preparation-driver",
    "gen-recovery-shower",
    "gen-warning-signs",
)
# The order a patient meets the topics of one procedure.
TOPIC_ORDER = ("overview", "preparation", "procedure", "recovery", "warning-signs",
               "risks", "results", "alternatives", "logistics")

# Built lists, per corpus object: the corpus is replaced whole on reload.
_cache: dict[tuple[int, str, str], tuple[Corpus, list[dict[str, str]]]] = {}


def _ordered(entries: list[FaqEntry], preferred: tuple[str, ...]) -> list[FaqEntry]:
    """The preferred ids first, then the first entry of each topic, then the rest."""
    by_id = {e.id: e for e in entries}
    out = [by_id[i] for i in preferred if i in by_id]
    rank = {t: n for n, t in enumerate(TOPIC_ORDER)}
    firsts: dict[str, FaqEntry] = {}
    for entry in entries:
        firsts.setdefault(entry.topic or "", entry)
    out += sorted(firsts.values(), key=lambda e: rank.get(e.topic or "", len(rank)))
    out += entries
    unique: dict[str, FaqEntry] = {}
    for entry in out:
        unique.setdefault(entry.id, entry)
    return list(unique.values())


def starters(english: Corpus, spanish: Corpus | None, procedure: str,
             language: str) -> list[dict[str, str]]:
    """Up to MAX_STARTERS {faq_id, question} for one procedure in one language."""
    target = spanish if language == "es" else english
    if target is None:
        return []
    key = (id(target), procedure, language)
    cached = _cache.get(key)
    if cached is not None and cached[0] is target:
        return cached[1]
    entries = [e for e in english.entries if (e.procedure or "general") == procedure]
    preferred = GENERAL if procedure == "general" else ()
    in_language = target.by_id
    questions = [{"faq_id": e.id, "question": in_language[e.id].question}
                 for e in _ordered(entries, preferred) if e.id in in_language]
    questions = questions[:MAX_STARTERS]
    if len(_cache) > 256:
        _cache.clear()
    _cache[key] = (target, questions)
    return questions


async def get_starters(request: web.Request) -> web.Response:
    language = request.query.get("language", "en")
    if language not in LANGUAGES:
        raise web.HTTPBadRequest(reason="'language' must be 'en' or 'es'")
    procedure = request.query.get("procedure", "") or "general"
    if procedure not in PROCEDURES:
        # A page naming a procedure the corpus does not cover still gets questions.
        procedure = "general"
    bot = request.app[BOT]
    questions = starters(bot.corpus, bot.corpus_es, procedure, language)
    if len(questions) < MIN_STARTERS and procedure != "general":
        procedure = "general"
        questions = starters(bot.corpus, bot.corpus_es, procedure, language)
    body: dict[str, Any] = {"procedure": procedure, "language": language,
                            "questions": questions}
    return web.json_response(body, headers={"Cache-Control": "public, max-age=300"})


def setup_starters(app: web.Application) -> None:
    app.router.add_get("/api/v1/starters", get_starters)
