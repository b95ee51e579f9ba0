"""Hostile requests against the real server: never a 5xx, never a leak."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.assembly import build_bot
from bot.config import load_settings
from bot.store import Store
from bot.web.app import create_app
from bot.web.auth import hash_password


def _app(tmp_path: Path, **overrides: Any):  # type: ignore[no-untyped-def]
    settings = load_settings(environ={}).replace(
        db=f"sqlite:///{tmp_path / 'h.db'}", data_dir=str(tmp_path), rate_limit=0,
        secure_cookies=False, **overrides)
    store = Store(settings.db_url)
    return create_app(settings, build_bot(settings, tickets=store), store), store


@pytest.fixture
async def client(aiohttp_client, tmp_path):  # type: ignore[no-untyped-def]
    app, store = _app(tmp_path)
    store.add_user("kim", hash_password("lantern-orbit-cactus-91"))
    return await aiohttp_client(app)


JSON = {"Content-Type": "application/json"}

HOSTILE: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/api/v1/messages", {"data": b"[" * 8000 + b"]" * 8000, "headers": JSON}),
    ("POST", "/api/v1/messages", {"data": b'{"text": ' + b"[" * 100 + b"]" * 100 + b"}",
                                  "headers": JSON}),
    ("POST", "/api/v1/messages", {"data": b'{"text": "hi"}',
                                  "headers": {"Content-Type": "text/plain"}}),
    ("POST", "/api/v1/messages", {"data": b"text=hi", "headers": {
        "Content-Type": "application/x-www-form-urlencoded"}}),
    ("POST", "/api/v1/messages", {"data": b"\xff\xfe", "headers": JSON}),
    ("POST", "/api/v1/messages", {"json": {"text": 5}}),
    ("POST", "/api/v1/messages", {"json": {"text": "hi", "session_id": "x" * 500}}),
    ("POST", "/api/v1/messages", {"json": {"text": "hi", "session_id": "a\nb"}}),
    ("POST", "/api/v1/messages", {"json": {"text": "hi", "session_token": ["x"]}}),
    ("GET", "/api/v1/sessions/abc/messages?after=%C2%B2", {}),
    ("GET", "/api/v1/sessions/abc/messages?after=-1", {}),
    ("GET", "/api/v1/sessions/abc/messages?after=99999999999999999999999", {}),
    ("POST", "/webhooks/rest/webhook", {"data": b"{", "headers": JSON}),
    ("POST", "/webhooks/rest/webhook", {"json": {"sender": {"x": 1}, "message": "hi"}}),
    ("POST", "/api/v1/feedback", {"json": {"session_id": "s", "helpful": "yes"}}),
    ("POST", "/api/v1/feedback", {"json": {"session_id": "s", "helpful": True,
                                           "faq_id": {"a": 1}}}),
    ("GET", "/staff/login?next=/staff%0A", {}),
    ("POST", "/staff/login", {"data": {"username": "kim", "password": "x" * 100_000}}),
    ("GET", "/staff/tickets/%00", {}),
    ("GET", "/metrics", {"headers": {"Authorization": "Bearer nope"}}),
]


@pytest.mark.parametrize(("method", "path", "kwargs"), HOSTILE,
                         ids=[f"{m} {p[:40]}" for m, p, _ in HOSTILE])
async def test_hostile_requests_get_a_4xx_not_a_5xx(client, method, path, kwargs) -> None:  # type: ignore[no-untyped-def]
    response = await client.request(method, path, allow_redirects=False, **kwargs)
    assert response.status < 500, await response.text()
    assert "Traceback" not in await response.text()


async def test_cross_origin_simple_posts_are_refused(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/api/v1/messages", data=b'{"text": "what is tace"}',
                                 headers={"Content-Type": "text/plain",
                                          "Origin": "https://evil.example"})
    assert response.status == 415 and "application/json" in (await response.json())["error"]


async def test_headers_protect_errors_too_and_name_no_version(client) -> None:  # type: ignore[no-untyped-def]
    for response in (await client.get("/nope"), await client.get("/staff", allow_redirects=False),
                     await client.post("/api/v1/messages", json={})):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "Content-Security-Policy" in response.headers
        assert response.headers.get("Server") == "faqbot"
        assert "X-Faqbot-Replica" not in response.headers


async def test_metrics_need_the_token_when_one_is_set(aiohttp_client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app, _ = _app(tmp_path, metrics_token="m-secret")
    client = await aiohttp_client(app)
    assert (await client.get("/metrics")).status == 401
    ok = await client.get("/metrics", headers={"Authorization": "Bearer m-secret"})
    assert ok.status == 200 and "faqbot" in await ok.text()


async def test_login_next_cannot_smuggle_a_newline(client) -> None:  # type: ignore[no-untyped-def]
    page = await client.get("/staff/login?next=/staff%0Aevil")
    assert page.status == 200 and "evil" not in await page.text()
