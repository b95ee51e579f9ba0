"""The HTTP API through aiohttp's test client: routes, errors, limits, channels, spec."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from bot.assembly import build_bot
from bot.config import load_settings
from bot.store import Store
from bot.web.app import create_app
from bot.web.openapi import OPENAPI


def make_app(tmp_path: Path, **overrides: Any):  # type: ignore[no-untyped-def]
    settings = load_settings(environ={}).replace(
        db=f"sqlite:///{tmp_path / 'api.db'}", **{"rate_limit": 0, **overrides})
    store = Store(settings.db_url)
    return create_app(settings, build_bot(settings, tickets=store), store), store


@pytest.fixture
async def client(aiohttp_client, tmp_path):  # type: ignore[no-untyped-def]
    app, _ = make_app(tmp_path)
    return await aiohttp_client(app)


def _nullable_to_jsonschema(schema: Any) -> Any:
    """OpenAPI 3.0's `nullable` as JSON Schema, with component refs inlined."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            return _nullable_to_jsonschema(OPENAPI["components"]["schemas"][name])
        out = {k: _nullable_to_jsonschema(v) for k, v in schema.items() if k != "nullable"}
        if schema.get("nullable"):
            out["type"] = [schema["type"], "null"]
        return out
    if isinstance(schema, list):
        return [_nullable_to_jsonschema(s) for s in schema]
    return schema


def response_schema(path: str, method: str, status: str) -> Any:
    operation = OPENAPI["paths"][path][method]
    schema = operation["responses"][status]["content"]["application/json"]["schema"]
    return _nullable_to_jsonschema(copy.deepcopy(schema))


async def test_message_round_trip_matches_openapi(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/api/v1/messages",
                                 json={"session_id": "s1", "text": "kyfoplasty recovry"})
    assert response.status == 200
    body = await response.json()
    jsonschema.validate(body, response_schema("/api/v1/messages", "post", "200"))
    assert body["session_id"] == "s1" and body["type"] in ("answer", "clarify")


async def test_session_id_is_created_when_missing(client) -> None:  # type: ignore[no-untyped-def]
    body = await (await client.post("/api/v1/messages", json={"text": "hello"})).json()
    assert body["type"] == "smalltalk" and len(body["session_id"]) >= 16


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        (b"{not json", 400, "malformed JSON"),
        (b"", 400, "empty body"),
        (b"[1, 2]", 400, "expected a JSON object"),
        (json.dumps({"session_id": "s"}).encode(), 400, "'text' is required"),
        (json.dumps({"text": "   "}).encode(), 400, "must not be empty"),
        (json.dumps({"text": 42}).encode(), 400, "must be a string"),
        (json.dumps({"text": "hi", "session_id": 5}).encode(), 400, "session_id"),
        (json.dumps({"text": "a" * 1001}).encode(), 413, "longer than 1000"),
        (json.dumps({"text": "a" * 20000}).encode(), 413, "too large"),
    ],
)
async def test_bad_input_gets_json_4xx(client, payload: bytes, status: int,  # type: ignore[no-untyped-def]
                                       message: str) -> None:
    response = await client.post("/api/v1/messages", data=payload,
                                 headers={"Content-Type": "application/json"})
    assert response.status == status
    body = await response.json()
    jsonschema.validate(body, response_schema("/api/v1/messages", "post", str(status)))
    assert message in body["error"]


async def test_unknown_route_and_wrong_method(client) -> None:  # type: ignore[no-untyped-def]
    assert (await client.get("/api/v1/nope")).status == 404
    response = await client.get("/api/v1/messages")
    assert response.status == 405
    assert "error" in await response.json()


async def test_rate_limit_answers_429_with_retry_after(aiohttp_client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Messages without a session count per address only (rate_limit_address).
    app, _ = make_app(tmp_path, rate_limit=3, rate_limit_address=3)
    client = await aiohttp_client(app)
    for _ in range(3):
        assert (await client.post("/api/v1/messages", json={"text": "hi"})).status == 200
    response = await client.post("/api/v1/messages", json={"text": "hi"})
    assert response.status == 429
    assert int(response.headers["Retry-After"]) >= 1


async def test_behind_a_proxy_each_forwarded_client_has_its_own_budget(
        aiohttp_client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app, _ = make_app(tmp_path, rate_limit=2, rate_limit_address=2, trust_forwarded=True,
                      replica_name="r7")
    client = await aiohttp_client(app)

    async def post(forwarded: str) -> int:
        response = await client.post("/api/v1/messages", json={"text": "hi"},
                                     headers={"X-Forwarded-For": forwarded})
        assert response.headers["X-Faqbot-Replica"] == "r7"
        return response.status

    # The last hop is the one our proxy appended; what the client claimed before it is ignored.
    assert [await post("6.6.6.6, 10.0.0.1"), await post("10.0.0.1")] == [200, 200]
    assert await post("7.7.7.7, 10.0.0.1") == 429
    assert await post("10.0.0.2") == 200


async def test_rasa_round_trip_with_buttons(client) -> None:  # type: ignore[no-untyped-def]
    assert await (await client.get("/webhooks/rest/")).json() == {"status": "ok"}
    response = await client.post("/webhooks/rest/webhook",
                                 json={"sender": "u1", "message": "what is a kyphoplasty"})
    messages = await response.json()
    jsonschema.validate(messages, response_schema("/webhooks/rest/webhook", "post", "200"))
    assert all(m["recipient_id"] == "u1" for m in messages)
    assert any(m.get("buttons") for m in messages)
    follow = await (await client.post("/webhooks/rest/webhook", json={
        "sender": "u1", "message": messages[-1]["buttons"][0]["payload"]})).json()
    assert follow[-1]["custom"]["type"] in ("answer", "clarify")


async def test_webhook_signature(aiohttp_client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app, _ = make_app(tmp_path, webhook_secret="s3cret")
    client = await aiohttp_client(app)
    body = json.dumps({"sender": "u", "message": "hello"}).encode()
    as_json = {"Content-Type": "application/json"}
    unsigned = await client.post("/webhooks/rest/webhook", data=body, headers=as_json)
    assert unsigned.status == 401
    stamp = str(int(time.time()))
    good = hmac.new(b"s3cret", stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    bad = await client.post("/webhooks/rest/webhook", data=body, headers={
        **as_json, "X-Faqbot-Timestamp": stamp, "X-Faqbot-Signature": "sha256=" + "0" * 64})
    assert bad.status == 401
    signed = {**as_json, "X-Faqbot-Timestamp": stamp, "X-Faqbot-Signature": "sha256=" + good}
    ok = await client.post("/webhooks/rest/webhook", data=body, headers=signed)
    assert ok.status == 200
    # The same signed request again is a replay: refused, no second ticket.
    replay = await client.post("/webhooks/rest/webhook", data=body, headers=signed)
    assert replay.status == 409 and "error" in await replay.json()
    old = str(int(time.time()) - 3600)
    stale_sig = hmac.new(b"s3cret", old.encode() + b"." + body, hashlib.sha256).hexdigest()
    stale = await client.post("/webhooks/rest/webhook", data=body, headers={
        **as_json, "X-Faqbot-Timestamp": old, "X-Faqbot-Signature": "sha256=" + stale_sig})
    assert stale.status == 401
    odd = await client.post("/webhooks/rest/webhook", data=body, headers={
        **as_json, "X-Faqbot-Timestamp": "\u00b2\u00b2", "X-Faqbot-Signature": "sha256=x"})
    assert odd.status in (400, 401)


async def test_cors_only_for_configured_origins(aiohttp_client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app, _ = make_app(tmp_path, allowed_origins="https://hospital.example")
    client = await aiohttp_client(app)
    allowed = await client.options("/api/v1/messages",
                                   headers={"Origin": "https://hospital.example"})
    assert allowed.status == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://hospital.example"
    other = await client.post("/api/v1/messages", json={"text": "hi"},
                              headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


async def test_security_headers(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.get("/healthz")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


async def test_healthz_openapi_and_metrics(client) -> None:  # type: ignore[no-untyped-def]
    health = await (await client.get("/healthz")).json()
    assert health["status"] == "ok" and health["entries"] >= 220
    spec = await (await client.get("/api/openapi.json")).json()
    assert spec["openapi"].startswith("3.") and "/api/v1/messages" in spec["paths"]
    await client.post("/api/v1/messages", json={"text": "my secret question about parking"})
    await client.post("/api/v1/messages", json={"text": "chest pain right now"})
    metrics = await (await client.get("/metrics")).text()
    assert 'faqbot_replies_total{type="emergency"} 1.0' in metrics
    assert "faqbot_http_request_seconds_bucket" in metrics
    assert "parking" not in metrics


async def test_feedback_thumbs_down_opens_ticket(aiohttp_client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app, store = make_app(tmp_path)
    client = await aiohttp_client(app)
    up = await (await client.post("/api/v1/feedback", json={
        "session_id": "f", "faq_id": "vert-recovery-driving", "helpful": True})).json()
    assert up == {"ok": True, "ticket_id": None}
    down = await (await client.post("/api/v1/feedback", json={
        "session_id": "f", "faq_id": "vert-recovery-driving", "helpful": False,
        "comment": "call me on 555-123-4567"})).json()
    ticket = store.get_ticket(down["ticket_id"])
    assert ticket["kind"] == "feedback" and "555-123-4567" not in ticket["message"]
    bad = await client.post("/api/v1/feedback", json={"session_id": "f", "helpful": "yes"})
    assert bad.status == 400


async def test_fallback_ticket_is_committed_and_redacted(aiohttp_client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app, store = make_app(tmp_path)
    client = await aiohttp_client(app)
    body = await (await client.post("/api/v1/messages", json={
        "text": "I'm Priya Patel, what's the weather tomorrow?"})).json()
    assert body["type"] == "fallback" and body["ticket_id"]
    ticket = store.get_ticket(body["ticket_id"])
    assert ticket is not None and "Priya" not in ticket["message"]


async def test_static_pages_served(client) -> None:  # type: ignore[no-untyped-def]
    for path in ("/", "/chat", "/demo", "/widget.js"):
        response = await client.get(path)
        assert response.status == 200, path


_SHARED: dict[str, Any] = {}


@hsettings(max_examples=80, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.one_of(
    st.dictionaries(st.sampled_from(["text", "session_id", "x"]),
                    st.one_of(st.text(max_size=300), st.integers(), st.none(), st.booleans(),
                              st.lists(st.text(max_size=5), max_size=3))),
    st.text(max_size=200), st.lists(st.integers(), max_size=3)))
def test_property_no_5xx(payload: Any, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    """Whatever JSON arrives, the API answers with the spec's shape and never a 5xx."""
    import asyncio

    from aiohttp.test_utils import TestClient, TestServer

    if "bot" not in _SHARED:
        settings = load_settings(environ={}).replace(
            db=f"sqlite:///{tmp_path_factory.mktemp('prop') / 'p.db'}", rate_limit=0)
        store = Store(settings.db_url)
        _SHARED.update(settings=settings, store=store, bot=build_bot(settings, tickets=store))

    async def run() -> None:
        app = create_app(_SHARED["settings"], _SHARED["bot"], _SHARED["store"])
        async with TestClient(TestServer(app)) as client:
            response = await client.post("/api/v1/messages", data=json.dumps(payload),
                                         headers={"Content-Type": "application/json"})
            assert response.status < 500
            body = await response.json()
            status = str(response.status)
            jsonschema.validate(body, response_schema("/api/v1/messages", "post", status))

    asyncio.run(run())


async def test_replies_are_logged_for_insights(aiohttp_client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bot.web.replylog import REPLY_LOG

    app, store = make_app(tmp_path)
    client = await aiohttp_client(app)
    await client.post("/api/v1/messages", json={"text": "when can i drive after kyphoplasty"})
    await client.post("/api/v1/messages", json={"text": "what's the weather tomorrow"})
    await app[REPLY_LOG].flush()
    rates = store.daily_rates()
    assert rates and rates[-1]["messages"] == 2 and rates[-1]["fallback_rate"] == 0.5
