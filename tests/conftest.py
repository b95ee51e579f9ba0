"""Shared fixtures: the real bot on the bundled corpus, built once per run."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
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


# ------------------------------------------------- real PostgreSQL and Redis
#
# The store and session suites run against the servers this machine (and CI)
# starts on loopback. A fresh database / key prefix per test keeps runs apart.

PG_ADMIN_URL = os.environ.get("FAQBOT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("FAQBOT_TEST_REDIS", "redis://127.0.0.1:6379/0")


def unavailable(message: str) -> None:
    """Skip a test whose server is not running here; under CI=true fail it:
    CI starts both servers, so a missing one is a broken run, not a pass."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " (CI=true: failing instead of skipping)", pytrace=False)
    pytest.skip(message)


def _pg_admin():  # type: ignore[no-untyped-def]
    import psycopg

    try:
        return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL not reachable at {PG_ADMIN_URL} (set FAQBOT_TEST_PG): {exc}")


@contextlib.contextmanager
def fresh_pg_database() -> Iterator[str]:
    """Create faqbot_test_<random>, yield its URL, drop it (even if still connected)."""
    name = f"faqbot_test_{uuid.uuid4().hex[:12]}"
    with _pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with _pg_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_pg_database() as url:
        yield url


def redis_or_skip():  # type: ignore[no-untyped-def]
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable(f"Redis not reachable at {REDIS_URL} (set FAQBOT_TEST_REDIS): {exc}")
    return client


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A unique key prefix; every key under it is deleted afterwards."""
    client = redis_or_skip()
    prefix = f"faqbot-test-{uuid.uuid4().hex[:10]}:"
    yield prefix
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def redis_url(redis_prefix: str) -> str:
    """The test Redis URL (use it with `redis_prefix`, which it implies)."""
    return REDIS_URL


@pytest.fixture(scope="session")
def services():  # type: ignore[no-untyped-def]
    """For module-scoped fixtures: (fresh_pg_database, redis_or_skip, REDIS_URL)."""
    return fresh_pg_database, redis_or_skip, REDIS_URL
