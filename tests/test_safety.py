"""Emergencies: caught first, every time, with typos; never on negations or history."""

from __future__ import annotations

import pytest

from bot.safety import EmergencyDetector
from tests.conftest import ROOT, load_data

EMERGENCIES = load_data("emergency.yaml")
CALM = load_data("not_emergency.yaml")


@pytest.fixture(scope="module")
def detector() -> EmergencyDetector:
    return EmergencyDetector.from_file(ROOT / "intents" / "emergency.yaml")


def test_sets_are_big_enough() -> None:
    assert len(EMERGENCIES) >= 40 and len(CALM) >= 40


@pytest.mark.parametrize("item", EMERGENCIES, ids=lambda i: i["text"][:40])
def test_every_emergency_is_caught(detector: EmergencyDetector, item: dict[str, str]) -> None:
    assert detector.detect(item["text"]) is not None


@pytest.mark.parametrize("text", CALM, ids=lambda t: t[:40])
def test_negated_and_everyday_messages_are_not_emergencies(
    detector: EmergencyDetector, text: str
) -> None:
    assert detector.detect(text) is None


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("chest pian", "chest-pain"),
        ("CHEST PRESSURE!!", "chest-pain"),
        ("i cant breath", "breathing"),
        ("bleding wont stop from my groin", "bleeding"),
        ("her face is droopy on one side", "stroke"),
        ("i want to end my life", "self-harm"),
        ("my leg went cold and white after the stent", "limb-ischemia"),
        ("I'm not sure if it matters but my chest hurts", "chest-pain"),
    ],
)
def test_categories(detector: EmergencyDetector, text: str, category: str) -> None:
    found = detector.detect(text)
    assert found is not None and found.category == category


@pytest.mark.parametrize(
    "text",
    [
        "no chest pain since the stent, when can I exercise?",
        "I don't have any trouble breathing",
        "never had bleeding like that",
        "I had a stroke 3 years ago, can I have a biopsy?",
    ],
)
def test_negation_and_history(detector: EmergencyDetector, text: str) -> None:
    assert detector.detect(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "had my stent in 2019 and now have crushing chest pain",
        "I had a stroke years ago and today her face is drooping again",
    ],
)
def test_history_does_not_hide_a_current_emergency(detector: EmergencyDetector,
                                                    text: str) -> None:
    assert detector.detect(text) is not None


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("there is blood all over the bed from my groin", "bleeding"),
        ("no, the bleeding has not stopped", "bleeding"),
        ("bleeding still hasnt stopped after 10 min", "bleeding"),
        ("i cant stop throwing up blood", "vomiting-blood"),
        ("he is not making sense and his face looks weird", "stroke"),
        ("thinking about ending my life", "self-harm"),
        ("the lump in my groin is getting huge and hard", "swelling"),
    ],
)
def test_paraphrases_found_after_the_sets_were_written(
    detector: EmergencyDetector, text: str, category: str
) -> None:
    found = detector.detect(text)
    assert found is not None and found.category == category


def test_negation_inside_a_gap(detector: EmergencyDetector) -> None:
    assert detector.detect("my chest does not hurt, when can i lift") is None
    found = detector.detect("my chest doesn't hurt but my arm is numb")
    assert found is not None and found.category == "limb-ischemia"
    # A negation the pattern spells itself still counts.
    assert detector.detect("the bleeding will not stop").category == "bleeding"


def test_negation_does_not_cross_clauses(detector: EmergencyDetector) -> None:
    assert detector.detect("no fever, but my leg is cold and blue") is not None


def test_emergency_reply_comes_first_and_opens_urgent_ticket(fresh_bot) -> None:  # type: ignore[no-untyped-def]
    reply = fresh_bot.reply("hi, when can I drive? also crushing chest pain right now", "s")
    assert reply.type == "emergency"
    assert "911" in reply.text and "chest pain" in reply.text
    ticket = fresh_bot.tickets.tickets[-1]
    assert ticket["kind"] == "emergency" and ticket["urgent"] is True
    assert reply.ticket_id == ticket["id"]


def test_self_harm_gives_crisis_line(fresh_bot) -> None:  # type: ignore[no-untyped-def]
    reply = fresh_bot.reply("i want to kill myself", "s")
    assert reply.type == "emergency" and "988" in reply.text
