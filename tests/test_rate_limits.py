"""Rate limits behind NAT (issue 23, item 7): a budget per conversation and a
higher one per client address, so a hospital's guest Wi-Fi (one address for
everyone) does not share 30 messages a minute; a red flag passes both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.assembly import build_bot
from bot.config import load_settings
from bot.engine import Bot, MemoryTickets
from bot.sessions import MemorySessionStore
from bot.store import Store
from bot.web.factory import create_app
from bot.web.ratelimit import RedisRateLimiter
from tests.outage import bot_with


@pytest.fixture(scope="module")
def base_bot() -> Bot:
    return build_bot(load_settings(environ={}), tickets=MemoryTickets())


async def _client(aiohttp_client: Any, tmp_path: Path, bot: Bot, limiter: Any = None,
                  **overrides: Any) -> Any:
    settings = load_settings(environ={}).replace(
        db=f"sqlite:///{tmp_path / 'rl.db'}", data_dir=str(tmp_path), corpus_poll_seconds=0,
        trust_forwarded=True, **overrides)
    store = Store(settings.db_url)
    app = create_app(settings, bot_with(bot, sessions=MemorySessionStore(),
                                        tickets=MemoryTickets()), store, limiter)
    return await aiohttp_client(app)


async def _post(client: Any, text: str, session: str | None = None,
                address: str = "203.0.113.7") -> int:
    body = {"text": text, **({"session_id": session} if session else {})}
    response = await client.post("/api/v1/messages", json=body,
                                 headers={"X-Forwarded-For": address})
    return int(response.status)


@pytest.mark.parametrize("shared", ["memory", "redis"])
async def test_many_patients_behind_one_address(aiohttp_client, tmp_path, base_bot, shared,
                                               request) -> None:  # type: ignore[no-untyped-def]
    limiter = None
    if shared == "redis":
        limiter = RedisRateLimiter(3, request.getfixturevalue("redis_url"),
                                   request.getfixturevalue("redis_prefix"))
        request.addfinalizer(limiter.redis.close)
    client = await _client(aiohttp_client, tmp_path, base_bot, limiter, rate_limit=3,
                           rate_limit_address=10)
    # One conversation: its own budget of 3.
    assert [await _post(client, "hello", "nat-a") for _ in range(4)] == [200, 200, 200, 429]
    # Other patients on the same address keep theirs, up to the address's 10.
    statuses = [await _post(client, "hello", f"nat-{n}") for n in range(8)]
    assert statuses == [200] * 6 + [429] * 2  # 4 + 6 = 10 counted on the address
    # Another address is not affected.
    assert await _post(client, "hello", "elsewhere", address="198.51.100.9") == 200
    # Red flags pass every limit: the spent conversation and the spent address.
    assert await _post(client, "crushing chest pain, I can't breathe", "nat-a") == 200
    assert await _post(client, "my face is drooping and I can't talk") == 200


async def test_zero_turns_every_limit_off(aiohttp_client, tmp_path, base_bot) -> None:  # type: ignore[no-untyped-def]
    client = await _client(aiohttp_client, tmp_path, base_bot, rate_limit=0,
                           rate_limit_address=1)
    assert {await _post(client, "hello", "s") for _ in range(5)} == {200}


def test_the_address_ceiling_is_higher_by_default() -> None:
    settings = load_settings(environ={})
    assert settings.rate_limit_address > settings.rate_limit > 0


async def test_a_high_rate_limit_raises_the_address_ceiling_too(aiohttp_client, tmp_path,
                                                                base_bot) -> None:  # type: ignore[no-untyped-def]
    """`--rate-limit 1000000` for a load test from one address limits nothing."""
    client = await _client(aiohttp_client, tmp_path, base_bot, rate_limit=50,
                           rate_limit_address=5)
    assert {await _post(client, "hello", f"load-{n}") for n in range(8)} == {200}
