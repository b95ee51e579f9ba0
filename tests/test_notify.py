"""Staff notifications on handoff and emergency tickets: delivered, retried, failures kept."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from bot.assembly import build_bot
from bot.config import load_settings
from bot.store import Store
from bot.web.app import create_app
from bot.web.notify import NOTIFIER


async def fake_chat_tool(aiohttp_server, failures: int):  # type: ignore[no-untyped-def]
    received: list[dict[str, str]] = []
    state = {"failures": failures}

    async def hook(request: web.Request) -> web.Response:
        if state["failures"] > 0:
            state["failures"] -= 1
            return web.Response(status=503)
        received.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = await aiohttp_server(app)
    return str(server.make_url("/hook")), received


async def make_client(aiohttp_client, tmp_path: Path, url: str):  # type: ignore[no-untyped-def]
    settings = load_settings(environ={}).replace(
        db=f"sqlite:///{tmp_path / 'n.db'}", rate_limit=0, notify_url=url)
    store = Store(settings.db_url)
    app = create_app(settings, build_bot(settings, tickets=store), store)
    app[NOTIFIER].delays = (0.01, 0.02, 0.04)
    return await aiohttp_client(app), app, store


async def test_emergency_notifies_without_patient_text(aiohttp_client, aiohttp_server,  # type: ignore[no-untyped-def]
                                                       tmp_path) -> None:
    url, received = await fake_chat_tool(aiohttp_server, failures=2)
    client, app, _ = await make_client(aiohttp_client, tmp_path, url)
    reply = await (await client.post("/api/v1/messages", json={
        "text": "my name is Ann Lee and I have crushing chest pain"})).json()
    await asyncio.gather(*app[NOTIFIER].pending)
    assert len(received) == 1
    assert reply["ticket_id"] in received[0]["text"] and "URGENT" in received[0]["text"]
    assert "Ann" not in received[0]["text"] and "chest" not in received[0]["text"]


async def test_failed_notification_is_recorded_on_ticket(aiohttp_client, aiohttp_server,  # type: ignore[no-untyped-def]
                                                         tmp_path) -> None:
    url, received = await fake_chat_tool(aiohttp_server, failures=99)
    client, app, store = await make_client(aiohttp_client, tmp_path, url)
    reply = await (await client.post("/api/v1/messages",
                                     json={"text": "can I talk to a nurse"})).json()
    await asyncio.gather(*app[NOTIFIER].pending)
    assert received == []
    ticket = store.get_ticket(reply["ticket_id"])
    assert ticket["status"] == "open" and "failed after 4 attempts" in ticket["notify_error"]


async def test_answers_do_not_notify(aiohttp_client, aiohttp_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url, received = await fake_chat_tool(aiohttp_server, failures=0)
    client, app, _ = await make_client(aiohttp_client, tmp_path, url)
    await client.post("/api/v1/messages", json={"text": "when can i drive after kyphoplasty"})
    assert not app[NOTIFIER].pending and received == []
