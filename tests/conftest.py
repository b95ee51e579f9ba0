"""Shared fixtures: the real bot on the bundled corpus, built once per run."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.assembly import build_bot
from bot.config import load_settings
from bot.engine import Bot, MemoryTickets

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
DATA = TESTS / "data"


def load_data(name: str):  # type: ignore[no-untyped-def]
    with (DATA / name).open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope="session")
def settings():  # type: ignore[no-untyped-def]
    return load_settings(environ={})


@pytest.fixture(scope="session")
def bot(settings) -> Bot:  # type: ignore[no-untyped-def]
    return build_bot(settings, tickets=MemoryTickets())


@pytest.fixture
def fresh_bot(settings) -> Bot:  # type: ignore[no-untyped-def]
    """A bot with its own sessions and tickets, for tests that inspect them."""
    return build_bot(settings, tickets=MemoryTickets())
