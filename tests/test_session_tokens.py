"""Nobody reads a session that is not theirs: session tokens through the real server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.assembly import build_bot
from bot.config import load_settings
from bot.session_tokens import SessionTokens, new_session_id
from bot.store import Store
from bot.web.app import create_app


def _app(tmp_path: Path, **overrides: Any):  # type: ignore[no-untyped-def]
    settings = load_settings(environ={}).replace(
        db=f"sqlite:///{tmp_path / 'tok.db'}", data_dir=str(tmp_path), rate_limit=0,
        **overrides)
    store = Store(settings.db_url)
    return create_app(settings, build_bot(settings, tickets=store), store), store


@pytest.fixture
async def server(aiohttp_client, tmp_path):  # type: ignore[no-untyped-def]
    app, store = _app(tmp_path)
    return await aiohttp_client(app), store


async def _post(client, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    headers = {"X-Session-Token": token} if token else {}
    response = await client.post("/api/v1/messages", json=body, headers=headers)
    assert response.status == 200, await response.text()
    return await response.json()


async def test_every_reply_carries_the_contract_fields(server) -> None:  # type: ignore[no-untyped-def]
    client, _ = server
    reply = await _post(client, {"text": "what is a kyphoplasty"})
    assert len(reply["session_id"]) >= 20 and reply["session_token"]
    assert reply["language"] == "en"
    again = await _post(client, {"text": "does it hurt", "session_id": reply["session_id"]},
                        reply["session_token"])
    assert again["session_token"] == reply["session_token"]


async def test_a_guessed_session_id_gets_no_token_and_no_messages(server) -> None:  # type: ignore[no-untyped-def]
    client, store = server
    patient = await _post(client, {"text": "what's the weather tomorrow", "session_id": "p-1"})
    store.reply_to_ticket(patient["ticket_id"], "A nurse will call you about your result.",
                          "nurse")
    # Someone else posts to the same session id: no token for them.
    intruder = await _post(client, {"text": "hello", "session_id": "p-1"})
    assert intruder["session_token"] == ""
    for headers in ({}, {"X-Session-Token": "wrong"},
                    {"X-Session-Token": intruder["session_token"]}):
        response = await client.get("/api/v1/sessions/p-1/messages", headers=headers)
        assert response.status == 401
        assert "nurse" not in await response.text()
    own = await client.get("/api/v1/sessions/p-1/messages",
                           headers={"X-Session-Token": patient["session_token"]})
    assert own.status == 200
    assert [m["text"] for m in (await own.json())["messages"]] == [
        "A nurse will call you about your result."]


async def test_channel_sessions_cannot_be_chosen_or_shared(server) -> None:  # type: ignore[no-untyped-def]
    client, _ = server
    for reserved in ("chatwoot-1-7", "dialogflow-x", "rasa-abc"):
        response = await client.post("/api/v1/messages",
                                     json={"text": "hi", "session_id": reserved})
        assert response.status == 400 and "error" in await response.json()
    # Rasa clients that send no sender no longer share one session.
    first = await (await client.post("/webhooks/rest/webhook", json={"message": "hi"})).json()
    second = await (await client.post("/webhooks/rest/webhook", json={"message": "hi"})).json()
    assert first[-1]["recipient_id"] != second[-1]["recipient_id"]
    assert first[-1]["recipient_id"].startswith("rasa-")
    assert first[-1]["custom"]["session_token"]


def test_tokens_are_stable_per_secret_and_kept_under_data_dir(tmp_path: Path) -> None:
    first = SessionTokens.from_settings("", tmp_path)
    again = SessionTokens.from_settings("", tmp_path)
    assert first.issue("s") == again.issue("s") != first.issue("t")
    assert (tmp_path / "session_secret").stat().st_mode & 0o077 == 0
    other = SessionTokens.from_settings("another secret of enough length", tmp_path)
    assert other.issue("s") != first.issue("s") and not other.verify("s", first.issue("s"))
    assert len({new_session_id() for _ in range(1000)}) == 1000
    with pytest.raises(ValueError):
        SessionTokens(b"short")
