"""Call-backs: a patient's name and number reach the ticket for signed-in staff,
sealed at rest, never in the logs, erased when the ticket closes or is purged."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from bot.assembly import build_bot
from bot.callbacks import CallbackRequest, Sealer
from bot.config import load_settings
from bot.store import Store
from bot.web.app import create_app
from bot.web.auth import hash_password
from tests.test_staff import FIXTURE_CORPUS, PASSWORD, USER, csrf_of, login

KEY = Fernet.generate_key().decode()
PHONE = "555-201-3344"
NAME = "Marisol Quintero"
BODY = {"name": NAME, "phone": PHONE, "best_time": "after 4pm", "consent": True}


@pytest.fixture
def store(tmp_path: Path):
    store = Store("sqlite:///" + str(tmp_path / "t.db"))
    store.add_user(USER, hash_password(PASSWORD))
    yield store
    store.close()


def _app(tmp_path: Path, store: Store, key: str):  # type: ignore[no-untyped-def]
    corpus = tmp_path / "corpus"
    if not corpus.exists():
        shutil.copytree(FIXTURE_CORPUS, corpus, ignore=shutil.ignore_patterns("*.md"))
    settings = load_settings(environ={}).replace(
        db="sqlite:///" + str(tmp_path / "t.db"), corpus=str(corpus),
        data_dir=str(tmp_path / "data"), secure_cookies=False, rate_limit=0,
        callback_key=key)
    return create_app(settings, build_bot(settings, tickets=store), store)


@pytest.fixture
async def client(aiohttp_client, tmp_path, store):
    return await aiohttp_client(_app(tmp_path, store, KEY))


async def session(client) -> tuple[str, str, str]:
    reply = await (await client.post("/api/v1/messages",
                                     json={"text": "can i speak to a nurse please"})).json()
    return reply["session_id"], reply["session_token"], reply.get("ticket_id") or ""


async def request_callback(client, session_id: str, token: str, **changes):
    return await client.post("/api/v1/callbacks", json={"session_id": session_id,
                                                         **BODY, **changes},
                             headers={"X-Session-Token": token})


async def test_a_callback_reaches_the_ticket_and_nowhere_else_in_clear(
        client, store, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    session_id, token, handoff = await session(client)
    response = await request_callback(client, session_id, token)
    assert response.status == 200, await response.text()
    ticket_id = (await response.json())["ticket_id"]
    assert ticket_id and (not handoff or ticket_id == handoff)

    await login(client)
    page = await (await client.get(f"/staff/tickets/{ticket_id}")).text()
    assert "Call-back requested" in page and PHONE in page and NAME in page
    assert 'href="tel:555-201-3344"' in page and "after 4pm" in page

    # At rest: not in the database file or its journal, not in any table in clear.
    for path in tmp_path.glob("t.db*"):
        raw = path.read_bytes()
        assert PHONE.encode() not in raw and b"5552013344" not in raw, path.name
        assert NAME.encode() not in raw, path.name
    with store.engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            rows = conn.execute(sa.text(f'SELECT * FROM "{table}"')).all()
            assert PHONE not in repr(rows) and NAME not in repr(rows), table
    # Not in the logs.
    assert PHONE not in caplog.text and NAME not in caplog.text
    # The sealed row opens with the key.
    (row,) = store.callbacks_for(ticket_id)
    assert Sealer(KEY).open(row["sealed"]) == CallbackRequest(NAME, PHONE, "after 4pm")


async def test_the_callback_is_erased_when_the_ticket_closes(client, store):
    session_id, token, _ = await session(client)
    ticket_id = (await (await request_callback(client, session_id, token)).json())["ticket_id"]
    await login(client)
    await client.post(f"/staff/tickets/{ticket_id}/resolve", data={"csrf": await csrf_of(client)})
    assert store.callbacks_for(ticket_id) == []
    page = await (await client.get(f"/staff/tickets/{ticket_id}")).text()
    assert PHONE not in page


def test_the_retention_purge_erases_callbacks(store):
    ticket_id = store.open_ticket(kind="handoff", session_id="s", message="call me")
    store.add_callback(ticket_id, Sealer(KEY).seal(CallbackRequest(NAME, PHONE, "")))
    assert store.purge(0) == 1
    assert store.callbacks_for(ticket_id) == []


async def test_a_callback_needs_the_session_token_consent_and_a_number(client):
    session_id, token, _ = await session(client)
    assert (await request_callback(client, session_id, "forged")).status == 401
    assert (await request_callback(client, session_id, "")).status == 401
    refused = await request_callback(client, session_id, token, consent=False)
    assert refused.status == 400 and "consent" in await refused.text()
    bad = await request_callback(client, session_id, token, phone="call me maybe")
    assert bad.status == 400 and "call me maybe" not in await bad.text()
    assert (await request_callback(client, session_id, token, name="")).status == 400


async def test_no_key_no_callbacks(aiohttp_client, tmp_path, store):
    client = await aiohttp_client(_app(tmp_path, store, ""))
    session_id, token, _ = await session(client)
    response = await request_callback(client, session_id, token)
    assert response.status == 403 and "callback_key" in await response.text()


async def test_only_signed_in_staff_see_the_ticket(client):
    session_id, token, _ = await session(client)
    ticket_id = (await (await request_callback(client, session_id, token)).json())["ticket_id"]
    anonymous = await client.get(f"/staff/tickets/{ticket_id}", allow_redirects=False)
    assert anonymous.status == 302 and PHONE not in await anonymous.text()


def test_a_bad_key_fails_at_start_with_the_settings_name() -> None:
    with pytest.raises(ValueError, match="callback_key"):
        load_settings(environ={"FAQBOT_CALLBACK_KEY": "not-a-key"})
