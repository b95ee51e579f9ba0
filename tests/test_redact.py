"""Identifiers never survive redaction; clinical numbers and words do."""

from __future__ import annotations

import pytest

from bot.redact import redact
from tests.conftest import load_data

SETS = load_data("redaction.yaml")


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
