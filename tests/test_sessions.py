"""Session stores (memory and Redis) and rate limiters (memory and Redis).

The Redis half talks to the real server on 127.0.0.1:6379 (FAQBOT_TEST_REDIS
to point elsewhere) under a unique key prefix that is deleted afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from bot.domain import SessionState, Turn
from bot.sessions import MAX_TURNS, MemorySessionStore, RedisSessionStore, redis_client
from bot.web.ratelimit import RateLimiter, RedisRateLimiter


@dataclass
class Backend:
    make: Callable[[float], object]  # ttl seconds -> a session store
    wait: Callable[[float], None]  # let that much time pass


@pytest.fixture(params=["memory", "redis"])
def backend(request) -> Backend:  # type: ignore[no-untyped-def]
    if request.param == "memory":
        now = [0.0]

        def advance(seconds: float) -> None:
            now[0] += seconds

        return Backend(lambda ttl: MemorySessionStore(ttl, clock=lambda: now[0]), advance)
    prefix = request.getfixturevalue("redis_prefix")
    client = redis_client(request.getfixturevalue("redis_url"))
    request.addfinalizer(client.close)
    return Backend(lambda ttl: RedisSessionStore(client, ttl, prefix), time.sleep)


def _state(session_id: str = "s1") -> SessionState:
    return SessionState(
        session_id, procedure="vertebroplasty-kyphoplasty", last_faq_id="vert-overview",
        disclaimer_shown=True,
        turns=[Turn("what is kyphoplasty", "Kyphoplasty is…", "answer", "vert-overview"),
               Turn("blah", "Sorry, I can't help with that.", "fallback")],
        open_ticket_ids=["T0123456789A"],
    )


def test_round_trip_keeps_turns_and_context(backend: Backend) -> None:
    store = backend.make(60)
    store.save(_state())
    loaded = store.load("s1")
    assert loaded == _state()
    assert isinstance(loaded.turns[0], Turn) and loaded.turns[1].faq_id is None


def test_unknown_session_is_fresh(backend: Backend) -> None:
    assert backend.make(60).load("never-seen") == SessionState("never-seen")


def test_sessions_are_isolated(backend: Backend) -> None:
    store = backend.make(60)
    store.save(_state("a"))
    store.save(SessionState("b", procedure="embolization"))
    assert store.load("a").procedure == "vertebroplasty-kyphoplasty"
    assert store.load("b").procedure == "embolization" and store.load("b").turns == []


def test_only_the_last_turns_are_kept(backend: Backend) -> None:
    store = backend.make(60)
    state = SessionState("long", turns=[Turn(f"q{i}", "a", "answer") for i in range(25)])
    store.save(state)
    turns = store.load("long").turns
    assert len(turns) == MAX_TURNS and turns[-1].user == "q24"


def test_sessions_expire_after_the_ttl(backend: Backend) -> None:
    store = backend.make(0.3)
    store.save(_state("short"))
    assert store.load("short").procedure == "vertebroplasty-kyphoplasty"
    backend.wait(0.6)
    assert store.load("short") == SessionState("short")


def test_a_save_refreshes_the_ttl(backend: Backend) -> None:
    store = backend.make(0.5)
    store.save(_state("kept"))
    backend.wait(0.3)
    store.save(store.load("kept"))
    backend.wait(0.3)
    assert store.load("kept").turns  # 0.6 s after the first save, 0.3 s after the last


def test_memory_store_is_bounded() -> None:
    store = MemorySessionStore(60, max_sessions=3)
    for n in range(5):
        store.save(SessionState(f"s{n}", procedure="embolization"))
    assert len(store) == 3
    assert store.load("s0").procedure is None  # the oldest were dropped
    assert store.load("s4").procedure == "embolization"


def test_redis_sessions_are_shared_between_instances(redis_url: str, redis_prefix: str) -> None:
    """Two replicas, two clients, one conversation."""
    url = redis_url
    first, second = RedisSessionStore(url, 60, redis_prefix), RedisSessionStore(url, 60,
                                                                                redis_prefix)
    first.save(_state("shared"))
    assert second.load("shared") == _state("shared")
    other = RedisSessionStore(url, 60, redis_prefix + "other:")
    assert other.load("shared") == SessionState("shared")  # prefixes keep deployments apart
    for store in (first, second, other):
        store.close()


# -------------------------------------------------------------- rate limiting


@pytest.fixture(params=["memory", "redis"])
def limiter_pair(request):  # type: ignore[no-untyped-def]
    """Two limiters standing for two replicas: one shared budget (memory: one process)."""
    if request.param == "memory":
        limiter = RateLimiter(3)
        return limiter, limiter
    url = request.getfixturevalue("redis_url")
    prefix = request.getfixturevalue("redis_prefix")
    pair = RedisRateLimiter(3, url, prefix), RedisRateLimiter(3, url, prefix)
    for limiter in pair:
        request.addfinalizer(limiter.redis.close)
    return pair


def test_rate_limit_is_shared(limiter_pair) -> None:  # type: ignore[no-untyped-def]
    a, b = limiter_pair
    assert [a.hit("1.2.3.4"), b.hit("1.2.3.4"), a.hit("1.2.3.4")] == [0, 0, 0]
    wait = b.hit("1.2.3.4")
    assert 1 <= wait <= 60
    assert 1 <= a.hit("1.2.3.4") <= 60
    assert a.hit("5.6.7.8") == 0 and b.hit("5.6.7.8") == 0  # other clients unaffected


def test_redis_window_is_fixed_and_expires(redis_url: str, redis_prefix: str) -> None:
    url = redis_url
    limiter = RedisRateLimiter(1, url, redis_prefix)
    assert limiter.hit("c") == 0
    key = redis_prefix + "rate:c"
    assert 0 < limiter.redis.ttl(key) <= 60
    assert limiter.hit("c") > 0
    limiter.redis.pexpire(key, 1)  # the window ends
    time.sleep(0.05)
    assert limiter.hit("c") == 0
    limiter.redis.persist(key)  # a key somehow left without expiry does not block forever
    limiter.hit("c")
    assert 0 < limiter.redis.ttl(key) <= 60
    limiter.redis.close()


def test_zero_turns_rate_limiting_off(redis_url: str, redis_prefix: str) -> None:
    url = redis_url
    limiter = RedisRateLimiter(0, url, redis_prefix)
    assert all(limiter.hit("c") == 0 for _ in range(5))
    assert limiter.redis.keys(redis_prefix + "*") == []
    limiter.redis.close()
