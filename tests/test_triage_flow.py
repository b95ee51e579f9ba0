"""Red flags through the whole bot and the server: first, never blocked, one ticket an episode."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.assembly import build_bot
from bot.config import load_settings
from bot.engine import Bot, MemoryTickets
from bot.store import Store
from bot.web.app import create_app
from bot.web.keys import SETTINGS


class BrokenTickets(MemoryTickets):
    """A ticket store that fails until it is mended, like PostgreSQL during an outage."""

    broken = True

    def open_ticket(self, **ticket: object) -> str:
        if self.broken:
            raise ConnectionError("database is down")
        return super().open_ticket(**ticket)


class BrokenSessions:
    def load(self, session_id: str) -> Any:
        raise ConnectionError("redis is down")

    def save(self, state: Any) -> None:
        raise ConnectionError("redis is down")


@pytest.mark.parametrize(
    "text",
    [
        # Each also matches an intent: the red flag must win over it.
        "can i talk to a nurse, i have crushing chest pain",
        "hi there, my chest is tight and i cant breathe",
        "thanks, but now her face is drooping",
        "what does my biopsy result mean, i am coughing up blood",
    ],
)
def test_red_flags_come_before_every_intent(fresh_bot: Bot, text: str) -> None:
    assert fresh_bot.reply(text, "s").type == "emergency"


def test_urgent_reply_names_the_care_team_and_emergency_care(settings) -> None:  # type: ignore[no-untyped-def]
    bot = build_bot(settings.replace(on_call_number="555-0100"), tickets=MemoryTickets())
    reply = bot.reply("temp of 101.5 since yesterday, 4 days after my embolization", "s")
    assert reply.type == "urgent"
    assert "care team" in reply.text and "555-0100" in reply.text
    assert "emergency care" in reply.text and "911" in reply.text
    ticket = bot.tickets.tickets[-1]
    assert ticket["kind"] == "urgent" and ticket["urgent"] is True


def test_crisis_reply_gives_988_and_911_and_an_urgent_ticket(fresh_bot: Bot) -> None:
    reply = fresh_bot.reply("everyone would be better off without me", "s")
    assert reply.type == "emergency" and "988" in reply.text and "911" in reply.text
    assert fresh_bot.tickets.tickets[-1]["urgent"] is True


def test_one_episode_one_ticket_with_a_count(fresh_bot: Bot) -> None:
    first = fresh_bot.reply("my groin is bleeding through the bandage", "s")
    again = fresh_bot.reply("it is still bleeding through everything", "s")
    assert first.ticket_id == again.ticket_id
    tickets = [t for t in fresh_bot.tickets.tickets if t["kind"] == "emergency"]
    assert len(tickets) == 1 and tickets[0]["repeats"] == 1
    # A calm turn ends the episode: a later red flag is a new one.
    fresh_bot.reply("when can I shower after angioplasty", "s")
    later = fresh_bot.reply("now my chest hurts", "s")
    assert later.ticket_id != first.ticket_id


def test_a_storage_outage_never_blocks_the_reply(settings) -> None:  # type: ignore[no-untyped-def]
    tickets = BrokenTickets()
    bot = build_bot(settings, tickets=tickets, sessions=BrokenSessions())  # type: ignore[arg-type]
    reply = bot.reply("crushing chest pain and cant breathe", "s")
    assert reply.type == "emergency" and reply.ticket_id
    assert tickets.tickets == [] and len(bot.outbox.waiting) == 1
    assert bot.reply("how long is recovery after kyphoplasty", "s").type in (
        "answer", "clarify", "fallback")
    # The store comes back: the waiting ticket is written with the id the patient saw.
    tickets.broken = False
    bot.outbox.flush()
    assert [t["id"] for t in tickets.tickets] == [reply.ticket_id]
    assert bot.outbox.waiting.maxlen and not bot.outbox.waiting


def _app(tmp_path: Path, **overrides: Any):  # type: ignore[no-untyped-def]
    settings = load_settings(environ={}).replace(
        db=f"sqlite:///{tmp_path / 'api.db'}", **overrides)
    store = Store(settings.db_url)
    return create_app(settings, build_bot(settings, tickets=store), store), store


async def test_an_emergency_is_answered_after_the_rate_limit_is_spent(  # type: ignore[no-untyped-def]
        aiohttp_client, tmp_path) -> None:
    app, _ = _app(tmp_path, rate_limit=2, rate_limit_address=2)
    client = await aiohttp_client(app)
    for _ in range(2):
        assert (await client.post("/api/v1/messages", json={"text": "hello"})).status == 200
    assert (await client.post("/api/v1/messages", json={"text": "hello"})).status == 429
    urgent = await client.post("/api/v1/messages", json={
        "text": "my groin is swelling up fast and bleeding through the bandage"})
    assert urgent.status == 200 and (await urgent.json())["type"] == "emergency"
    rasa = await client.post("/webhooks/rest/webhook", json={
        "sender": "x", "message": "my dad's face is drooping and he can't talk"})
    assert rasa.status == 200 and (await rasa.json())[-1]["custom"]["type"] == "emergency"


async def test_a_lone_surrogate_never_poisons_a_session(aiohttp_client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app, store = _app(tmp_path, rate_limit=0)
    client = await aiohttp_client(app)
    # A broken emoji: JSON may carry half a surrogate pair.
    body = '{"session_id": "sur", "text": "crushing chest pain and cant breathe \\ud83d"}'
    first = await client.post("/api/v1/messages", data=body.encode(),
                              headers={"Content-Type": "application/json"})
    assert first.status == 200 and (await first.json())["type"] == "emergency"
    later = await client.post("/api/v1/messages", json={
        "session_id": "sur", "text": "what is the weather on mars \ud83d"})
    assert later.status == 200
    kinds = [t["kind"] for t in store.list_tickets()]
    assert "emergency" in kinds and "fallback" in kinds
    assert all("\ufffd" in t["message"] for t in store.list_tickets())


async def test_an_over_long_emergency_still_gets_the_emergency_reply(  # type: ignore[no-untyped-def]
        aiohttp_client, tmp_path) -> None:
    app, _ = _app(tmp_path, rate_limit=0)
    client = await aiohttp_client(app)
    limit = app[SETTINGS].max_message_chars
    padding = "I had my procedure last week and I am writing a lot. " * (limit // 40)
    long_red = await client.post("/api/v1/messages", json={
        "text": "my chest hurts so bad and I am sweating. " + padding})
    assert long_red.status == 200 and (await long_red.json())["type"] == "emergency"
    long_calm = await client.post("/api/v1/messages", json={"text": padding})
    assert long_calm.status == 413 or 400 <= long_calm.status < 500
    assert "error" in json.loads(await long_calm.text())


async def test_a_redis_outage_lets_messages_through(aiohttp_client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bot.web.ratelimit import RedisRateLimiter

    settings = load_settings(environ={}).replace(db=f"sqlite:///{tmp_path / 'r.db'}",
                                                 rate_limit=5)
    store = Store(settings.db_url)
    down = RedisRateLimiter(5, "redis://127.0.0.1:1/0")  # nothing listens there
    app = create_app(settings, build_bot(settings, tickets=store,
                                         sessions=BrokenSessions()), store, down)  # type: ignore[arg-type]
    client = await aiohttp_client(app)
    calm = await client.post("/api/v1/messages", json={"text": "what is a kyphoplasty"})
    assert calm.status == 200
    red = await client.post("/api/v1/messages", json={"text": "i cant breathe"})
    assert red.status == 200 and (await red.json())["type"] == "emergency"


def test_the_memory_limiter_evicts_the_oldest_client() -> None:
    from bot.web.ratelimit import RateLimiter

    limiter = RateLimiter(1, clock=lambda: 0.0, max_clients=3)
    for client in ("a", "b", "c", "d"):
        assert limiter.hit(client) == 0
    assert limiter.hit("d") > 0  # still counted
    assert limiter.hit("a") == 0  # evicted, so counted afresh


async def test_a_spanish_emergency_is_answered_after_the_rate_limit_is_spent(  # type: ignore[no-untyped-def]
        aiohttp_client, tmp_path) -> None:
    app, _ = _app(tmp_path, rate_limit=1, rate_limit_address=1)
    client = await aiohttp_client(app)
    assert (await client.post("/api/v1/messages", json={"text": "hola"})).status == 200
    assert (await client.post("/api/v1/messages", json={"text": "hola"})).status == 429
    red = await client.post("/api/v1/messages", json={
        "text": "me duele mucho el pecho y no puedo respirar"})
    body = await red.json()
    assert red.status == 200 and body["type"] == "emergency" and body["language"] == "es"
