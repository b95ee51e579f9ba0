"""Identifiers never survive redaction; clinical numbers and words do."""

from __future__ import annotations

import pytest

from bot.redact import redact
from tests.conftest import load_data

SETS = load_data("redaction.yaml")
# Written separately, by a helper who never saw the redactor: identifiers in
# introductions, sign-offs, relatives, accents and hyphens, spaced numbers,
# PO boxes and postcodes; and look-alikes that must pass untouched.
BLIND = load_data("redaction_blind.yaml")


def test_set_sizes() -> None:
    assert len(SETS["with_identifiers"]) >= 40 and len(SETS["without_identifiers"]) >= 20


@pytest.mark.parametrize("item", SETS["with_identifiers"], ids=lambda i: i["text"][:40])
def test_identifiers_removed(item: dict) -> None:  # type: ignore[type-arg]
    redacted = redact(item["text"])
    for identifier in item["identifiers"]:
        assert identifier not in redacted, redacted
    assert "[" in redacted


@pytest.mark.parametrize("item", SETS["without_identifiers"], ids=lambda i: i["text"][:40])
def test_clinical_details_kept(item: dict) -> None:  # type: ignore[type-arg]
    redacted = redact(item["text"])
    for kept in item["keep"]:
        assert kept in redacted, redacted


def test_labels_say_what_was_removed() -> None:
    assert redact("call me on 555-123-4567") == "call me on [PHONE]"
    assert redact("my name is Mary Jones") == "my name is [NAME]"
    assert redact("MRN 12345678") == "MRN [ID]"


def test_blind_set_sizes() -> None:
    assert len(BLIND["with_identifiers"]) >= 150
    assert len(BLIND["without_identifiers"]) >= 150


@pytest.mark.parametrize("item", BLIND["with_identifiers"], ids=lambda i: i["text"][:40])
def test_blind_identifiers_removed(item: dict) -> None:  # type: ignore[type-arg]
    redacted = redact(item["text"])
    for identifier in item["identifiers"]:
        assert identifier not in redacted, redacted


@pytest.mark.parametrize("text", BLIND["without_identifiers"], ids=lambda t: t[:40])
def test_blind_look_alikes_untouched(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(("text", "expected"), [
    ("this is john smith, when can i drive", "this is [NAME], when can i drive"),
    ("Name: Maria Gonzalez", "Name: [NAME]"),
    ("I'm Jos\u00e9 N\u00fa\u00f1ez", "I'm [NAME]"),
    ("my name is Mar\u00eda Jos\u00e9 Garc\u00eda-L\u00f3pez", "my name is [NAME]"),
    ("my wife cant speak", "my wife cant speak"),
    ("Bell's palsy and Parkinson's, Dr. visit", "Bell's palsy and Parkinson's, Dr. visit"),
    ("SSN 123 45 6789", "SSN [SSN]"),
    ("PO Box 1234", "[ADDRESS]"),
    ("my mrn is A1234", "my mrn is [ID]"),
])
def test_issue_examples(text: str, expected: str) -> None:
    assert redact(text) == expected
