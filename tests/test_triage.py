"""Red-flag triage: caught first, every time, in patients' words; never on calm look-alikes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.corpus import load_corpus
from bot.triage import Triage
from tests.conftest import ROOT, TESTS, load_data

EMERGENCIES = load_data("emergency.yaml")
CALM = load_data("not_emergency.yaml")
TRIAGE_SETS = TESTS / "triage"


def _triage_set(name: str) -> list[dict[str, str]]:
    with (TRIAGE_SETS / name).open(encoding="utf-8") as handle:
        return list(yaml.safe_load(handle))


# The sealed split was scored once (see docs/triage.md); its misses were then
# fixed, as the triage issue asks, so it now guards against regressions too.
WRITTEN = _triage_set("train.yaml") + _triage_set("dev.yaml") + _triage_set("sealed.yaml")
RED = [i for i in WRITTEN if i["label"] != "calm"]
LOOK_ALIKES = [i for i in WRITTEN if i["label"] == "calm"]


@pytest.fixture(scope="module")
def triage() -> Triage:
    return Triage.from_file(ROOT / "intents" / "red_flags.yaml")


def test_written_sets_are_big_enough() -> None:
    assert len(RED) >= 500 and len(LOOK_ALIKES) >= 500
    assert len(EMERGENCIES) >= 40 and len(CALM) >= 40


@pytest.mark.parametrize("item", EMERGENCIES, ids=lambda i: i["text"][:40])
def test_every_emergency_is_caught(triage: Triage, item: dict[str, str]) -> None:
    found = triage.check(item["text"])
    assert found is not None and found.tier in ("emergency", "crisis")


@pytest.mark.parametrize("text", CALM, ids=lambda t: t[:40])
def test_negated_and_everyday_messages_are_calm(triage: Triage, text: str) -> None:
    assert triage.check(text) is None


@pytest.mark.parametrize("item", [i for i in RED if i["label"] != "urgent"],
                         ids=lambda i: i["text"][:50])
def test_written_emergencies_get_the_emergency_tier(triage: Triage, item: dict[str, str]) -> None:
    found = triage.check(item["text"])
    assert found is not None and found.tier in ("emergency", "crisis"), found
    if item["label"] == "crisis":
        assert found.tier == "crisis"


def test_written_urgent_signs_are_raised(triage: Triage) -> None:
    urgent = [i["text"] for i in RED if i["label"] == "urgent"]
    missed = [t for t in urgent if triage.check(t) is None]
    # Target: emergency-or-urgent recall of at least 97% on urgent signs.
    assert len(missed) <= 0.03 * len(urgent), missed


def test_written_look_alikes_rarely_alarm(triage: Triage) -> None:
    alarms = [i["text"] for i in LOOK_ALIKES if triage.check(i["text"]) is not None]
    # Target: false alarms on at most 1% of calm look-alikes.
    assert len(alarms) <= 0.01 * len(LOOK_ALIKES), alarms


def test_no_faq_phrasing_outside_warning_signs_alarms(triage: Triage) -> None:
    corpus = load_corpus(ROOT / "corpus")
    alarms = [
        (entry.id, phrasing, found.category)
        for entry in corpus.entries if entry.topic != "warning-signs"
        for phrasing in entry.phrasings()
        if (found := triage.check(phrasing)) is not None
    ]
    assert alarms == []


@pytest.mark.parametrize(
    ("text", "category", "tier"),
    [
        ("chest pian", "chest-pain", "emergency"),
        ("CHEST PRESSURE!!", "chest-pain", "emergency"),
        ("i cant breath", "breathing", "emergency"),
        ("bleding wont stop from my groin", "bleeding", "emergency"),
        ("her face is droopy on one side", "stroke", "emergency"),
        ("i want to end my life", "self-harm", "crisis"),
        ("I just don't want to go on anymore", "self-harm", "crisis"),
        ("everyone would be better off without me", "self-harm", "crisis"),
        ("honestly I don't want to go on anymore with this cancer, what's the point",
         "self-harm", "crisis"),
        ("my leg went cold and white after the stent", "limb-ischemia", "emergency"),
        ("I'm not sure if it matters but my chest hurts", "chest-pain", "emergency"),
        ("temp of 101.2 since last night, 5 days after my embolization", "infection", "urgent"),
        ("fever 102 and shaking chills i cant stop", "sepsis", "emergency"),
        ("pink pee the day after my kidney biopsy", "bleeding-minor", "urgent"),
        ("the discharge smells really bad", "infection", "urgent"),
    ],
)
def test_categories_and_tiers(triage: Triage, text: str, category: str, tier: str) -> None:
    found = triage.check(text)
    assert found is not None and (found.category, found.tier) == (category, tier)


@pytest.mark.parametrize(
    "text",
    [
        "no chest pain since the stent, when can I exercise?",
        "I don't have any trouble breathing",
        "never had bleeding like that",
        "I had a stroke 3 years ago, can I have a biopsy?",
        "what are the warning signs after a stent",
        "what if my groin bleeds when I get home",
        "should I worry if my leg feels cold after the angiogram",
        "my arm was numb for an hour after the block but it's fine now",
        "Is it normal for my legs to feel numb or heavy after the injection?",
        "Who gives consent for a thrombectomy if my family member cannot speak?",
        "low fever after my fibroid embolization, is that normal",
        "kindey function test before stint",
    ],
)
def test_scope_rules(triage: Triage, text: str) -> None:
    assert triage.check(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "had my stent in 2019 and now have crushing chest pain",
        "I had a stroke years ago and today her face is drooping again",
        "chest pain since this morning, is that normal?",
        "my husband is confused and his speech is slurred",
        "no fever, but my leg is cold and blue",
        "my chest does not hurt but my arm is suddenly numb",
    ],
)
def test_current_signs_survive_the_scope_rules(triage: Triage, text: str) -> None:
    assert triage.check(text) is not None


def test_the_message_is_split_where_the_sign_is(triage: Triage) -> None:
    long = ("had my kyphoplasty tuesday and my daughter drove me home and ive been resting "
            "like they said, now i cant feel my legs properly and i peed myself, also when "
            "can i shower")
    found = triage.check(long)
    assert found is not None and found.category == "spine-neuro"


def test_every_category_names_its_sources_and_a_known_tier(tmp_path: Path) -> None:
    broken = tmp_path / "flags.yaml"
    broken.write_text("categories:\n  x:\n    tier: emergency\n    reason: r\n"
                      "    patterns: [chest pain]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="sources"):
        Triage.from_file(broken)
    broken.write_text("categories:\n  x:\n    tier: soon\n    reason: r\n    sources: [s]\n"
                      "    patterns: [chest pain]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="tier"):
        Triage.from_file(broken)
    broken.write_text("categories:\n  x:\n    tier: urgent\n    reason: r\n    sources: [s]\n"
                      "    patterns: ['{nope} pain']\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown concept"):
        Triage.from_file(broken)
