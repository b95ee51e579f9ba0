"""The conversation engine: intents, policy, context, disclaimers, tickets, eval floors."""

from __future__ import annotations

import pytest

from bot.config import load_settings
from bot.domain import FaqEntry, Match
from bot.evaluation import read_split, run_evaluation
from bot.policy import Thresholds, decide_calibrated
from bot.ranker import OperatingPoint
from tests.conftest import TESTS, load_data


def test_disclaimer_only_on_first_turn(fresh_bot) -> None:  # type: ignore[no-untyped-def]
    first = fresh_bot.reply("what is kyphoplasty", "d1")
    second = fresh_bot.reply("when can i drive", "d1")
    assert first.disclaimer and "not medical advice" in first.disclaimer
    assert second.disclaimer is None


def test_answer_carries_entry_and_corpus_version(fresh_bot) -> None:  # type: ignore[no-untyped-def]
    reply = fresh_bot.reply("when can i drive after kyfoplasty", "a1")
    assert reply.type == "answer"
    assert reply.faq_id == "vert-recovery-driving"
    assert reply.procedure == "vertebroplasty-kyphoplasty" and reply.topic == "recovery"
    assert reply.corpus_version == fresh_bot.corpus.version
    assert reply.suggestions and all(s.faq_id in fresh_bot.corpus.by_id
                                     for s in reply.suggestions)


def test_context_carries_to_follow_up(fresh_bot) -> None:  # type: ignore[no-untyped-def]
    fresh_bot.reply("my husband is having a stent put in", "c1")
    reply = fresh_bot.reply("when can he drive afterwards", "c1")
    assert reply.faq_id == "angio-recovery-driving"


def test_named_procedure_overrides_remembered_one(fresh_bot) -> None:  # type: ignore[no-untyped-def]
    fresh_bot.reply("what is kyphoplasty", "c2")
    reply = fresh_bot.reply("when can i drive after a uterine fibroid embolization", "c2")
    assert reply.procedure == "uterine-fibroid-embolization"
    assert fresh_bot.sessions.load("c2").procedure == "uterine-fibroid-embolization"


def test_handoff_opens_ticket_with_summary(fresh_bot) -> None:  # type: ignore[no-untyped-def]
    fresh_bot.reply("what is kyphoplasty", "h1")
    reply = fresh_bot.reply("can i talk to a nurse please", "h1")
    assert reply.type == "handoff" and reply.ticket_id
    ticket = fresh_bot.tickets.tickets[-1]
    assert ticket["kind"] == "handoff"
    assert "vertebroplasty-kyphoplasty" in ticket["summary"]


def test_fallback_queues_redacted_question(fresh_bot) -> None:  # type: ignore[no-untyped-def]
    reply = fresh_bot.reply("my name is Mary Jones, what's the weather tomorrow", "f1")
    assert reply.type == "fallback" and reply.ticket_id
    ticket = fresh_bot.tickets.tickets[-1]
    assert "Mary" not in ticket["message"] and "[NAME]" in ticket["message"]


def test_session_turns_are_redacted(fresh_bot) -> None:  # type: ignore[no-untyped-def]
    fresh_bot.reply("call me on 555-123-4567 about my stent", "r1")
    state = fresh_bot.sessions.load("r1")
    assert all("555-123-4567" not in t.user for t in state.turns)


@pytest.mark.parametrize("group", ["greeting", "thanks", "goodbye"])
def test_smalltalk(fresh_bot, group: str) -> None:  # type: ignore[no-untyped-def]
    for number, text in enumerate(load_data("smalltalk.yaml")[group]):
        assert fresh_bot.reply(text, f"s{number}").type == "smalltalk", text


def test_gibberish_falls_back(fresh_bot) -> None:  # type: ignore[no-untyped-def]
    assert fresh_bot.reply("qwxz vbnm", "g").type == "fallback"


def entry(entry_id: str, topic: str = "recovery", question: str = "When can I drive?") -> FaqEntry:
    return FaqEntry(entry_id, question, "answer", "general", topic)


def test_medicine_questions_count_as_risky() -> None:
    point = OperatingPoint(answer=0.45, risky_answer=0.6)
    plain = {"a": entry("a")}
    medicine = {"a": entry("a", question="Should I stop my blood thinner?")}
    assert decide_calibrated([Match("a", 0.5)], plain, point, Thresholds()).type == "answer"
    assert decide_calibrated([Match("a", 0.5)], medicine, point, Thresholds()).type == "fallback"


def test_invalid_threshold_is_rejected() -> None:
    with pytest.raises(ValueError, match="answer"):
        Thresholds(answer=1.5)


def test_evaluation_floors() -> None:
    """What patients receive on the blind dev split, counted strictly: a
    clarify or a fallback is never right, whatever it suggests."""
    report = run_evaluation(load_settings(environ={}), TESTS, ("dev",))
    print(report.summary())
    assert report.below_floors("dev") == []
    dev = report.splits["dev"]
    assert dev.messages >= 400 and dev.turns >= 100
    # At least 15% of the blind messages are ones the corpus does not answer.
    splits = [read_split(TESTS / "eval" / "split", name) for name in ("train", "dev", "test")]
    singles = [q for split in splits if split for q in split["questions"]]
    assert sum(not q.get("expect") for q in singles) >= 0.15 * len(singles)
    figures = report.figures
    assert figures["emergency_recall"] == 1.0
    assert figures["false_emergency_rate"] == 0.0
    assert figures["out_of_scope_declined"] >= 0.9
    assert figures["handoff_recall"] >= 0.95
    assert figures["smalltalk_recall"] >= 0.95
    assert figures["triage_dev_emergency_recall"] == 1.0
    assert figures["triage_dev_false_alarms"] <= 0.01
    # The held-out set predates this round; nothing was tuned on it.
    # 0.687 since twelve procedure families joined the corpus (0.713 before).
    assert figures["heldout_correct_of_answerable"] >= 0.65
    assert figures["heldout_answer_precision"] >= 0.9


def test_floors_count_a_clarify_as_not_answered() -> None:
    from bot.evaluation import outcome_of

    assert outcome_of("clarify", None, ["a", "b"], {"a"}) == "clarify_right"
    assert outcome_of("fallback", None, ["a"], {"a"}) == "fallback"
    assert outcome_of("answer", "b", [], {"a"}) == "wrong"
    assert outcome_of("answer", "a", [], set()) == "wrong"
    assert outcome_of("handoff", None, [], set()) == "declined"


class _Clock:
    """A datetime stand-in whose now() is fixed."""

    def __init__(self, when):  # type: ignore[no-untyped-def]
        self.when = when

    def now(self):  # type: ignore[no-untyped-def]
        return self.when


@pytest.mark.parametrize(
    ("when", "expected", "absent"),
    [
        # Wednesday 10:00: office open, the usual reply time is given.
        ((2026, 12, 2, 10, 0), "one working day", "on-call"),
        # Wednesday 21:00 and Saturday 10:00: closed, the on-call number is given.
        ((2026, 12, 2, 21, 0), "on-call line at 555-0100", "one working day"),
        ((2026, 12, 5, 10, 0), "on-call line at 555-0100", "one working day"),
    ],
)
def test_handoff_reply_follows_office_hours(when, expected: str, absent: str) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    from bot.assembly import build_bot
    from bot.engine import MemoryTickets

    settings = load_settings(environ={}).replace(on_call_number="555-0100", office_hours="8-17")
    bot = build_bot(settings, tickets=MemoryTickets())
    bot._clock = _Clock(dt.datetime(*when))  # type: ignore[assignment]
    reply = bot.reply("can i talk to a nurse", "oh")
    assert reply.type == "handoff" and reply.ticket_id in reply.text
    assert expected in reply.text and absent not in reply.text
    assert "911" in reply.text


@pytest.mark.parametrize(
    "text",
    [
        "does my biopsy show cancer",
        "what does my MRI mean",
        "can you tell me if i need a stent",
        "my doctor said my fracture is bad, do i need kyphoplasty",
        "is my scan bad",
        "do i have cancer",
    ],
)
def test_personal_questions_go_to_the_care_team(fresh_bot, text: str) -> None:  # type: ignore[no-untyped-def]
    reply = fresh_bot.reply(text, "p")
    assert reply.type == "fallback" and reply.ticket_id
    assert "care team" in reply.text and reply.ticket_id in reply.text
    assert fresh_bot.tickets.tickets[-1]["kind"] == "fallback"


@pytest.mark.parametrize(
    "text",
    ["when will i get my biopsy results", "how long do biopsy results take",
     "do i need a driver after the biopsy", "do i need to stop eating before the procedure"],
)
def test_general_questions_are_not_personal(fresh_bot, text: str) -> None:  # type: ignore[no-untyped-def]
    assert fresh_bot.reply(text, "g").reason != "needs the patient's own care team"
