"""Webhook signatures are single-use across replicas (issue 15, item 5): the
nonces live in Redis (SET NX EX 300) when sessions do, so a signed Rasa
request replayed to another replica is refused; if Redis fails, each replica
still refuses replays it has seen itself."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import pytest

from bot.assembly import build_bot
from bot.config import load_settings
from bot.engine import Bot, MemoryTickets
from bot.sessions import redis_client
from bot.store import Store
from bot.web.factory import create_app
from bot.web.signatures import FRESH_SECONDS, RedisNonces
from tests.outage import closed_port

SECRET = "webhook-secret-for-tests"


@pytest.fixture(scope="module")
def shared_bot() -> Bot:
    return build_bot(load_settings(environ={}), tickets=MemoryTickets())


def _signed(body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    stamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
    return raw, {"Content-Type": "application/json", "X-Faqbot-Timestamp": stamp,
                 "X-Faqbot-Signature": f"sha256={digest}"}


async def _replica(aiohttp_client: Any, tmp_path: Path, name: str, bot: Bot,
                   nonces: RedisNonces) -> Any:
    settings = load_settings(environ={}).replace(
        db=f"sqlite:///{tmp_path / (name + '.db')}", data_dir=str(tmp_path), rate_limit=0,
        webhook_secret=SECRET, corpus_poll_seconds=0)
    store = Store(settings.db_url)
    client = await aiohttp_client(create_app(settings, bot, store, nonces=nonces))
    return client, store


async def test_a_replay_to_another_replica_is_refused(aiohttp_client, tmp_path, shared_bot,
                                                      redis_url, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    one_redis, two_redis = redis_client(redis_url), redis_client(redis_url)
    one, store_one = await _replica(aiohttp_client, tmp_path, "one", shared_bot,
                                    RedisNonces(one_redis, redis_prefix))
    two, store_two = await _replica(aiohttp_client, tmp_path, "two", shared_bot,
                                    RedisNonces(two_redis, redis_prefix))
    try:
        raw, headers = _signed({"sender": "rasa-replay-1", "message": "I want to talk to a person"})
        first = await one.post("/webhooks/rest/webhook", data=raw, headers=headers)
        assert first.status == 200, await first.text()
        replayed = await two.post("/webhooks/rest/webhook", data=raw, headers=headers)
        assert replayed.status == 409, await replayed.text()
        again = await one.post("/webhooks/rest/webhook", data=raw, headers=headers)
        assert again.status == 409
        keys = list(one_redis.scan_iter(match=redis_prefix + "nonce:*"))
        assert len(keys) == 1 and 0 < one_redis.ttl(keys[0]) <= FRESH_SECONDS
        # A new signature (another message) is accepted on either replica.
        raw2, headers2 = _signed({"sender": "rasa-replay-1", "message": "thanks"})
        assert (await two.post("/webhooks/rest/webhook", data=raw2, headers=headers2)).status \
            == 200
    finally:
        one_redis.close()
        two_redis.close()
        store_one.close()
        store_two.close()


async def test_redis_down_nonces_fall_back_to_memory(aiohttp_client, tmp_path,
                                                     shared_bot) -> None:  # type: ignore[no-untyped-def]
    dead = redis_client(f"redis://127.0.0.1:{closed_port()}/0")
    client, store = await _replica(aiohttp_client, tmp_path, "down", shared_bot,
                                   RedisNonces(dead, "faqbot-test:"))
    try:
        raw, headers = _signed({"sender": "rasa-replay-2", "message": "what is a kyphoplasty"})
        started = time.perf_counter()
        first = await client.post("/webhooks/rest/webhook", data=raw, headers=headers)
        assert first.status == 200, await first.text()
        assert time.perf_counter() - started < 1.0
        assert (await client.post("/webhooks/rest/webhook", data=raw, headers=headers)).status \
            == 409
    finally:
        dead.close()
        store.close()
