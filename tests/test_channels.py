"""Channel adapters: the Chatwoot agent bot against a fake Chatwoot API, and
Dialogflow ES fulfillment, replaying real-shaped payloads from tests/fixtures."""

from __future__ import annotations

import base64
import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.assembly import build_bot
from bot.config import load_settings
from bot.store import Store
from bot.web.app import create_app
from bot.web.channels import CHATWOOT, wait_for_deliveries

FIXTURES = Path(__file__).resolve().parent / "fixtures"
HOOK_TOKEN = "hook-token-123"
BOT_TOKEN = "bot-token-456"
DF_TOKEN = "df-token-789"


def fixture(kind: str, name: str, **changes: Any) -> dict[str, Any]:
    data = json.loads((FIXTURES / kind / f"{name}.json").read_text(encoding="utf-8"))
    data.update(changes)
    return data


def make_app(tmp_path: Path, **overrides: Any):  # type: ignore[no-untyped-def]
    settings = load_settings(environ={}).replace(
        db=f"sqlite:///{tmp_path / 'channels.db'}", **{"rate_limit": 0, **overrides})
    store = Store(settings.db_url)
    return create_app(settings, build_bot(settings, tickets=store), store), store


# ------------------------------------------------------------ fake Chatwoot


class FakeChatwoot:
    """Chatwoot's REST API, as far as the bot uses it; records every call."""

    def __init__(self) -> None:
        self.attempts: list[dict[str, Any]] = []
        self.delivered: list[dict[str, Any]] = []
        self.fail = 0.0  # refuse this many calls (math.inf: all of them)
        self.fail_status = 500
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        call = {"path": request.path, "token": request.headers.get("api_access_token"),
                "body": await request.json()}
        self.attempts.append(call)
        if self.fail > 0:
            self.fail -= 1
            return web.json_response({"error": "boom"}, status=self.fail_status)
        self.delivered.append(call)
        return web.json_response({"id": len(self.delivered)})

    def messages(self, *, private: bool = False) -> list[dict[str, Any]]:
        return [c["body"] for c in self.delivered if c["path"].endswith("/messages")
                and bool(c["body"].get("private")) == private]

    def toggles(self) -> list[dict[str, Any]]:
        return [c for c in self.delivered if c["path"].endswith("/toggle_status")]


@pytest.fixture
async def fake(aiohttp_server) -> FakeChatwoot:  # type: ignore[no-untyped-def]
    fake = FakeChatwoot()
    api = web.Application()
    api.router.add_post(
        "/api/v1/accounts/{account}/conversations/{conversation}/{action:messages|toggle_status}",
        fake.handle)
    server = await aiohttp_server(api)
    fake.url = str(server.make_url("/")).rstrip("/")
    return fake


@pytest.fixture
async def chatwoot(aiohttp_client, tmp_path, fake):  # type: ignore[no-untyped-def]
    app, store = make_app(tmp_path, chatwoot_url=fake.url, chatwoot_bot_token=BOT_TOKEN,
                          chatwoot_webhook_token=HOOK_TOKEN)
    app[CHATWOOT].backoff = 0.01
    client = await aiohttp_client(app)
    return client, store


async def deliver(client, payload: dict[str, Any], *, token: str | None = HOOK_TOKEN,  # type: ignore[no-untyped-def]
                  headers: dict[str, str] | None = None, wait: bool = True):
    url = "/channels/chatwoot" + (f"?token={token}" if token is not None else "")
    response = await client.post(url, json=payload, headers=headers or {})
    body = await response.json()
    if wait:
        await wait_for_deliveries(client.server.app)
    return response.status, body


def incoming(content: str, **conversation: Any) -> dict[str, Any]:
    payload = fixture("chatwoot", "message_created_incoming_pending", content=content)
    payload["conversation"].update(conversation)
    return payload


# ---------------------------------------------------------------- Chatwoot


async def test_answer_is_posted_to_the_conversation(chatwoot, fake) -> None:  # type: ignore[no-untyped-def]
    client, store = chatwoot
    status, body = await deliver(client, incoming("what is a kyphoplasty"))
    assert status == 200
    assert body["type"] == "answer" and body["session_id"] == "chatwoot-7-42"
    paths = {c["path"] for c in fake.delivered}
    assert paths == {"/api/v1/accounts/7/conversations/42/messages"}
    assert all(c["token"] == BOT_TOKEN for c in fake.delivered)
    public = fake.messages()
    assert all(m["message_type"] == "outgoing" for m in public)
    assert "automated assistant" in public[0]["content"]  # the disclaimer, first time only
    assert "broken bone in the spine" in public[-1]["content"]
    assert not fake.messages(private=True) and not fake.toggles()
    # The same conversation is the same bot session: no second disclaimer.
    fake.delivered.clear()
    payload = incoming("when can i drive")
    payload["id"] = 902
    await deliver(client, payload)
    assert len(fake.messages()) == 1
    assert "automated assistant" not in fake.messages()[0]["content"]


async def test_clarify_posts_input_select(chatwoot, fake) -> None:  # type: ignore[no-untyped-def]
    client, _ = chatwoot
    status, body = await deliver(client, incoming("when can i drive"))
    assert status == 200 and body["type"] == "clarify"
    select = [m for m in fake.messages() if m.get("content_type") == "input_select"]
    assert len(select) == 1
    items = select[0]["content_attributes"]["items"]
    assert len(items) >= 2
    assert all(i["title"] == i["value"] and i["title"].endswith("?") for i in items)
    assert select[0]["content"] == "Which procedure is your question about?"
    assert not fake.toggles()


async def test_suggestions_are_listed_outside_the_web_widget(chatwoot, fake) -> None:  # type: ignore[no-untyped-def]
    client, _ = chatwoot
    await deliver(client, incoming("when can i drive", channel="Channel::Whatsapp"))
    reply = fake.messages()[-1]
    assert "content_type" not in reply
    assert reply["content"].count("\n- ") >= 2


async def test_handoff_leaves_private_note_and_opens_conversation(chatwoot, fake) -> None:  # type: ignore[no-untyped-def]
    client, store = chatwoot
    status, body = await deliver(client, incoming("can i talk to a nurse"))
    assert status == 200 and body["type"] == "handoff"
    ticket_id = body["ticket_id"]
    ticket = store.get_ticket(ticket_id)
    assert ticket["kind"] == "handoff" and ticket["session_id"] == "chatwoot-7-42"
    assert ticket_id in fake.messages()[-1]["content"]  # the patient gets the reference
    notes = fake.messages(private=True)
    assert len(notes) == 1 and notes[0]["private"] is True
    assert ticket_id in notes[0]["content"] and "handoff" in notes[0]["content"]
    toggles = fake.toggles()
    assert [t["body"] for t in toggles] == [{"status": "open"}]
    assert toggles[0]["path"] == "/api/v1/accounts/7/conversations/42/toggle_status"
    # Order: the patient's reply, then the note, then the hand-over.
    assert fake.delivered[-1]["path"].endswith("/toggle_status")
    assert ticket["notify_error"] is None
    # The procedure under discussion is passed on to the agent.
    fake.delivered.clear()
    payload = incoming("what is a kyphoplasty")
    payload["conversation"]["id"] = 43
    payload["id"] = 950
    await deliver(client, payload)
    payload = incoming("i want to speak to someone")
    payload["conversation"]["id"] = 43
    payload["id"] = 951
    await deliver(client, payload)
    assert "Procedure: vertebroplasty-kyphoplasty." in fake.messages(private=True)[-1]["content"]


async def test_emergency_tells_patient_to_call_and_opens_conversation(chatwoot, fake) -> None:  # type: ignore[no-untyped-def]
    client, store = chatwoot
    status, body = await deliver(client, incoming("crushing chest pain now"))
    assert status == 200 and body["type"] == "emergency"
    assert any("911" in m["content"] for m in fake.messages())
    note = fake.messages(private=True)[0]["content"]
    assert "URGENT" in note and body["ticket_id"] in note
    assert [t["body"] for t in fake.toggles()] == [{"status": "open"}]
    assert store.get_ticket(body["ticket_id"])["urgent"] is True


async def test_fallback_hands_over_too(chatwoot, fake) -> None:  # type: ignore[no-untyped-def]
    client, _ = chatwoot
    status, body = await deliver(client, incoming("what is the capital of france"))
    assert body["type"] == "fallback" and body["ticket_id"]
    assert fake.messages(private=True) and fake.toggles()


@pytest.mark.parametrize("name", ["message_created_outgoing_agent",
                                  "message_created_outgoing_bot"])
async def test_outgoing_messages_are_ignored(chatwoot, fake, name: str) -> None:  # type: ignore[no-untyped-def]
    client, store = chatwoot
    status, body = await deliver(client, fixture("chatwoot", name))
    assert status == 200 and "incoming" in body["ignored"]
    assert fake.attempts == [] and store.list_tickets() == []


async def test_open_conversation_is_left_to_the_humans(chatwoot, fake) -> None:  # type: ignore[no-untyped-def]
    client, store = chatwoot
    status, body = await deliver(client, fixture("chatwoot", "message_created_incoming_open"))
    assert status == 200 and body == {"ignored": "conversation is open"}
    assert fake.attempts == [] and store.list_tickets() == []


@pytest.mark.parametrize("name", ["conversation_status_changed", "webwidget_triggered"])
async def test_other_events_are_ignored(chatwoot, fake, name: str) -> None:  # type: ignore[no-untyped-def]
    client, _ = chatwoot
    status, body = await deliver(client, fixture("chatwoot", name))
    assert status == 200 and body["ignored"].startswith("event ")
    assert fake.attempts == []


async def test_duplicate_deliveries_are_dropped(chatwoot, fake) -> None:  # type: ignore[no-untyped-def]
    client, store = chatwoot
    headers = {"X-Chatwoot-Delivery": "d-1"}
    first = await deliver(client, incoming("can i talk to a nurse"), headers=headers)
    second = await deliver(client, incoming("can i talk to a nurse"), headers=headers)
    assert first[0] == 200 and first[1]["type"] == "handoff"
    assert second == (200, {"ignored": "duplicate delivery"})
    # The same message id redelivered without the header is a duplicate too.
    third = await deliver(client, incoming("can i talk to a nurse"))
    assert third[1] == {"ignored": "duplicate delivery"}
    assert len(store.list_tickets()) == 1 and len(fake.toggles()) == 1


async def test_token_is_required(chatwoot, fake) -> None:  # type: ignore[no-untyped-def]
    client, store = chatwoot
    for token in ("wrong", None, ""):
        status, body = await deliver(client, incoming("can i talk to a nurse"), token=token)
        assert status == 401 and "token" in body["error"]
    status, _ = await deliver(client, incoming("hello"), token=None,
                              headers={"X-Faqbot-Token": "nope"})
    assert status == 401
    assert fake.attempts == [] and store.list_tickets() == []
    status, body = await deliver(client, incoming("hello"), token=None,
                                 headers={"X-Faqbot-Token": HOOK_TOKEN})
    assert status == 200 and body["type"] == "smalltalk"


async def test_unconfigured_chatwoot_is_refused(aiohttp_client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app, _ = make_app(tmp_path)
    client = await aiohttp_client(app)
    status, body = await deliver(client, incoming("hello"), token="anything")
    assert status == 503 and body["error"] == "chatwoot not configured"


async def test_bad_payloads_get_json_400(chatwoot) -> None:  # type: ignore[no-untyped-def]
    client, _ = chatwoot
    url = f"/channels/chatwoot?token={HOOK_TOKEN}"
    assert (await client.post(url, data=b"{nope")).status == 400
    broken = incoming("hello")
    del broken["account"]
    response = await client.post(url, json=broken)
    assert response.status == 400 and "account" in (await response.json())["error"]


async def test_chatwoot_down_then_up_is_retried(chatwoot, fake) -> None:  # type: ignore[no-untyped-def]
    client, store = chatwoot
    fake.fail = 2
    status, body = await deliver(client, incoming("can i talk to a nurse"))
    assert status == 200
    assert len(fake.attempts) == len(fake.delivered) + 2
    assert any(body["ticket_id"] in m["content"] for m in fake.messages())
    assert len(fake.toggles()) == 1
    assert store.get_ticket(body["ticket_id"])["notify_error"] is None


async def test_chatwoot_down_for_good_records_failure_on_ticket(chatwoot, fake) -> None:  # type: ignore[no-untyped-def]
    client, store = chatwoot
    client.server.app[CHATWOOT].backoff = 0.02
    fake.fail = math.inf
    status, body = await deliver(client, incoming("can i talk to a nurse"), wait=False)
    # Chatwoot gets its answer before the retries are over.
    assert status == 200 and body["type"] == "handoff"
    assert client.server.app[CHATWOOT].tasks
    await wait_for_deliveries(client.server.app)
    assert fake.delivered == []
    # Disclaimer, reply, note and toggle: four tries each.
    assert len(fake.attempts) == 4 * 4
    ticket = store.get_ticket(body["ticket_id"])
    assert ticket is not None and ticket["kind"] == "handoff" and ticket["status"] == "open"
    error = ticket["notify_error"]
    assert error.startswith("chatwoot: ") and "toggle_status" in error and "HTTP 500" in error


async def test_deliveries_in_flight_finish_at_shutdown(chatwoot, fake) -> None:  # type: ignore[no-untyped-def]
    client, _ = chatwoot
    fake.fail = 1
    status, body = await deliver(client, incoming("can i talk to a nurse"), wait=False)
    assert status == 200 and body["type"] == "handoff"
    await client.close()  # app cleanup waits for the hand-over before closing the client
    assert [t["body"] for t in fake.toggles()] == [{"status": "open"}]


async def test_chatwoot_refusing_the_bot_token_is_not_retried(chatwoot, fake) -> None:  # type: ignore[no-untyped-def]
    client, store = chatwoot
    fake.fail, fake.fail_status = math.inf, 401
    status, body = await deliver(client, incoming("can i talk to a nurse"))
    assert status == 200
    assert len(fake.attempts) == 4  # disclaimer, reply, note, toggle: once each
    assert "HTTP 401" in store.get_ticket(body["ticket_id"])["notify_error"]


# -------------------------------------------------------------- Dialogflow


@pytest.fixture
async def dialogflow(aiohttp_client, tmp_path):  # type: ignore[no-untyped-def]
    app, store = make_app(tmp_path)
    return await aiohttp_client(app), store


def df_request(text: str, session: str | None = None) -> dict[str, Any]:
    data = fixture("dialogflow", "webhook_request_fallback_intent")
    data["queryResult"]["queryText"] = text
    if session:
        data["session"] = session
    return data


async def df_post(client, payload: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
    response = await client.post("/channels/dialogflow", json=payload, **kwargs)
    return response.status, await response.json()


async def test_dialogflow_answer(dialogflow) -> None:  # type: ignore[no-untyped-def]
    client, _ = dialogflow
    status, body = await df_post(client, df_request("what is a kyphoplasty"))
    assert status == 200
    assert "broken bone in the spine" in body["fulfillmentText"]
    texts = [m["text"]["text"][0] for m in body["fulfillmentMessages"] if "text" in m]
    assert "automated assistant" in texts[0] and "broken bone" in texts[-1]
    faqbot = body["payload"]["faqbot"]
    assert faqbot["type"] == "answer" and faqbot["faq_id"] == "vert-overview-what-is"
    assert faqbot["handoff"] is False and faqbot["emergency"] is False
    # Same Dialogflow session, same bot session: context carries, no second disclaimer.
    status, body = await df_post(client, df_request("and when can i drive?"))
    assert body["payload"]["faqbot"]["faq_id"] == "vert-recovery-driving"
    assert "automated assistant" not in body["fulfillmentText"]


async def test_dialogflow_clarify_has_quick_replies(dialogflow) -> None:  # type: ignore[no-untyped-def]
    client, _ = dialogflow
    status, body = await df_post(client, df_request("when can i drive"))
    assert status == 200 and body["payload"]["faqbot"]["type"] == "clarify"
    quick = [m["quickReplies"] for m in body["fulfillmentMessages"] if "quickReplies" in m]
    assert len(quick) == 1 and quick[0]["title"]
    assert len(quick[0]["quickReplies"]) >= 2
    assert all(isinstance(q, str) and q for q in quick[0]["quickReplies"])


async def test_dialogflow_handoff_payload(dialogflow) -> None:  # type: ignore[no-untyped-def]
    client, store = dialogflow
    session = "projects/ir-faq-agent/agent/sessions/handoff-1"
    status, body = await df_post(client, df_request("can i talk to a nurse", session))
    faqbot = body["payload"]["faqbot"]
    assert status == 200 and faqbot["type"] == "handoff"
    assert faqbot["handoff"] is True and faqbot["emergency"] is False
    ticket = store.get_ticket(faqbot["ticket_id"])
    assert ticket["kind"] == "handoff" and ticket["session_id"] == session
    assert faqbot["ticket_id"] in body["fulfillmentText"]


async def test_dialogflow_emergency_payload(dialogflow) -> None:  # type: ignore[no-untyped-def]
    client, store = dialogflow
    status, body = await df_post(client, df_request("crushing chest pain now"))
    faqbot = body["payload"]["faqbot"]
    assert status == 200 and faqbot["type"] == "emergency"
    assert faqbot["emergency"] is True and faqbot["handoff"] is True
    assert "911" in body["fulfillmentText"]
    assert store.get_ticket(faqbot["ticket_id"])["urgent"] is True


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{not json", "malformed JSON"),
        (b"[]", "expected a JSON object"),
        (json.dumps({"session": "s"}).encode(), "queryResult"),
        (json.dumps({"session": "s", "queryResult": {}}).encode(), "'queryText' is required"),
        (json.dumps({"session": "s", "queryResult": {"queryText": 3}}).encode(),
         "must be a string"),
        (json.dumps({"queryResult": {"queryText": "hi"}}).encode(), "'session'"),
    ],
)
async def test_dialogflow_malformed_is_400(dialogflow, payload: bytes, message: str) -> None:  # type: ignore[no-untyped-def]
    client, _ = dialogflow
    response = await client.post("/channels/dialogflow", data=payload,
                                 headers={"Content-Type": "application/json"})
    assert response.status == 400
    body = await response.json()
    assert message in body["error"]


async def test_dialogflow_token(aiohttp_client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app, _ = make_app(tmp_path, dialogflow_token=DF_TOKEN)
    client = await aiohttp_client(app)
    payload = df_request("hello")
    assert (await df_post(client, payload))[0] == 401
    assert (await df_post(client, payload, headers={"Authorization": "Bearer nope"}))[0] == 401
    assert (await df_post(client, payload,
                          headers={"Authorization": f"Bearer {DF_TOKEN}"}))[0] == 200
    basic = base64.b64encode(f"dialogflow:{DF_TOKEN}".encode()).decode()
    assert (await df_post(client, payload, headers={"Authorization": f"Basic {basic}"}))[0] == 200
    assert (await df_post(client, payload, headers={"X-Faqbot-Token": DF_TOKEN}))[0] == 200


async def test_dialogflow_long_session_is_shortened_stably(dialogflow) -> None:  # type: ignore[no-untyped-def]
    client, store = dialogflow
    session = "projects/ir-faq-agent/agent/environments/draft/users/u/sessions/" + "x" * 120
    _, first = await df_post(client, df_request("can i talk to a nurse", session))
    ticket = store.get_ticket(first["payload"]["faqbot"]["ticket_id"])
    assert ticket["session_id"].startswith("dialogflow-") and len(ticket["session_id"]) <= 128
    _, again = await df_post(client, copy.deepcopy(df_request("hello", session)))
    assert "automated assistant" not in again["fulfillmentText"]


# ------------------------------------------- Chatwoot: a click on an option button
#
# Fixture tests/fixtures/chatwoot/message_updated_input_select_submitted.json is
# `Message#webhook_data` merged with `event: "message_updated"`, as Chatwoot's
# app/listeners/agent_bot_listener.rb (message_updated -> process_message_event)
# sends it to the agent bot: the bot's own outgoing `input_select` message with
# the widget's choice written into `content_attributes.submitted_values`
# ([{"title", "value"}], the form the widget's PATCH /api/v1/widget/messages/:id
# stores; see Chatwoot's interactive-messages docs for `items`).


def choice(value: str | None = None, **changes: Any) -> dict[str, Any]:
    payload = fixture("chatwoot", "message_updated_input_select_submitted", **changes)
    if value is not None:
        payload["content_attributes"]["submitted_values"] = [{"title": value, "value": value}]
    return payload


async def test_a_click_on_an_option_is_answered(chatwoot, fake) -> None:  # type: ignore[no-untyped-def]
    client, _ = chatwoot
    status, body = await deliver(client, choice())
    assert status == 200 and body["type"] == "answer", body
    assert body["session_id"] == "chatwoot-7-42"
    assert body["faq_id"] == "vert-recovery-driving"
    answer = fake.messages()[-1]["content"]
    assert "drive" in answer.lower() and not fake.toggles()


async def test_a_click_is_answered_once_however_often_chatwoot_resends_it(chatwoot, fake) -> None:  # type: ignore[no-untyped-def]
    client, _ = chatwoot
    first = await deliver(client, choice())
    answered = len(fake.delivered)
    # The same message updated again (read, delivered...) still carries the choice.
    again = await deliver(client, choice())
    assert first[1]["type"] == "answer"
    assert again == (200, {"ignored": "duplicate delivery"})
    assert len(fake.delivered) == answered
    # Another choice on another of the bot's messages is a new turn.
    other = choice("When can I drive after embolization?", id=904)
    assert (await deliver(client, other))[1]["type"] == "answer"


@pytest.mark.parametrize(("change", "reason"), [
    ({"content_type": "text"}, "message_updated is not a choice"),  # an edit, not a click
    ({"message_type": "incoming"}, "message_updated is not a choice"),
    ({"content_attributes": {"items": []}}, "no submitted value"),  # nothing chosen yet
])
async def test_message_updated_without_a_choice_is_ignored(chatwoot, fake, change, reason) -> None:  # type: ignore[no-untyped-def]
    client, _ = chatwoot
    status, body = await deliver(client, choice(**change))
    assert (status, body) == (200, {"ignored": reason})
    assert fake.attempts == []


async def test_a_click_in_an_open_conversation_is_left_to_the_humans(chatwoot, fake) -> None:  # type: ignore[no-untyped-def]
    client, _ = chatwoot
    payload = choice()
    payload["conversation"]["status"] = "open"
    assert (await deliver(client, payload))[1] == {"ignored": "conversation is open"}
    assert fake.attempts == []


async def test_recorded_widget_flow_a_click_on_a_suggestion_gets_the_answer(chatwoot, fake) -> None:  # type: ignore[no-untyped-def]
    """The website widget end to end: the patient types, the bot offers buttons,
    the patient clicks one, and the answer appears in Chatwoot's message log."""
    client, _ = chatwoot
    _, body = await deliver(client, incoming("when can i drive"))
    assert body["type"] == "clarify"
    # What Chatwoot stored for the bot's buttons, and the id it gave the message.
    index, posted = next((i, c["body"]) for i, c in enumerate(fake.delivered)
                         if c["body"].get("content_type") == "input_select")
    items = posted["content_attributes"]["items"]
    picked = next(i for i in items if "kyphoplasty" in i["title"])
    # The widget writes the click into that message; Chatwoot sends message_updated.
    clicked = fixture("chatwoot", "message_updated_input_select_submitted",
                      id=index + 1, content=posted["content"])
    clicked["content_attributes"] = {**posted["content_attributes"], "submitted_values": [picked]}
    status, body = await deliver(client, clicked, headers={"X-Chatwoot-Delivery": "d-click"})
    assert status == 200 and body["type"] == "answer"
    assert body["faq_id"] == "vert-recovery-driving"  # the option clicked, not another
    log = [m["content"] for m in fake.messages()]
    assert log[-1] != posted["content"] and "drive" in log[-1].lower()


# ---------------------------------------------------- Chatwoot: signed webhooks
#
# Headers as Chatwoot's lib/webhooks/trigger.rb sends them to an agent bot's
# outgoing URL in versions that sign: X-Chatwoot-Signature
# "sha256=<hex HMAC-SHA256(secret, '<timestamp>.<raw body>')>",
# X-Chatwoot-Timestamp (Unix seconds) and X-Chatwoot-Delivery (a UUID per
# delivery), over the JSON of Message#webhook_data.

CW_SECRET = "cw-bot-secret-0123456789abcdef"


def signed_headers(raw: bytes, *, secret: str = CW_SECRET, stamp: int | None = None,
                   delivery: str | None = None) -> dict[str, str]:
    import hashlib
    import hmac
    import time
    import uuid

    when = str(int(time.time()) if stamp is None else stamp)
    digest = hmac.new(secret.encode(), when.encode() + b"." + raw, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Chatwoot-Signature": f"sha256={digest}",
            "X-Chatwoot-Timestamp": when,
            "X-Chatwoot-Delivery": delivery or str(uuid.uuid4())}


@pytest.fixture
async def signed_chatwoot(aiohttp_client, tmp_path, fake):  # type: ignore[no-untyped-def]
    # A current Chatwoot: the bot's secret, no token in the URL.
    app, store = make_app(tmp_path, chatwoot_url=fake.url, chatwoot_bot_token=BOT_TOKEN,
                          chatwoot_webhook_secret=CW_SECRET)
    app[CHATWOOT].backoff = 0.01
    return await aiohttp_client(app), store


async def post_raw(client, raw: bytes, headers: dict[str, str], query: str = ""):  # type: ignore[no-untyped-def]
    response = await client.post("/channels/chatwoot" + query, data=raw, headers=headers)
    body = await response.json()
    await wait_for_deliveries(client.server.app)
    return response.status, body


async def test_a_signed_delivery_is_answered(signed_chatwoot, fake) -> None:  # type: ignore[no-untyped-def]
    client, _ = signed_chatwoot
    raw = json.dumps(incoming("what is a kyphoplasty")).encode()
    status, body = await post_raw(client, raw, signed_headers(raw))
    assert status == 200 and body["type"] == "answer"
    assert "broken bone in the spine" in fake.messages()[-1]["content"]


@pytest.mark.parametrize(("how", "error"), [
    ("wrong secret", "bad X-Chatwoot-Signature"),
    ("body changed", "bad X-Chatwoot-Signature"),
    ("stale", "missing or stale X-Chatwoot-Timestamp"),
    ("from the future", "missing or stale X-Chatwoot-Timestamp"),
    ("no timestamp", "missing or stale X-Chatwoot-Timestamp"),
    ("unsigned", "missing X-Chatwoot-Signature"),
])
async def test_a_bad_signature_is_refused(signed_chatwoot, fake, how: str, error: str) -> None:  # type: ignore[no-untyped-def]
    import time

    client, store = signed_chatwoot
    raw = json.dumps(incoming("can i talk to a nurse")).encode()
    headers = signed_headers(raw)
    if how == "wrong secret":
        headers = signed_headers(raw, secret="not-the-secret")
    elif how == "body changed":
        raw = raw.replace(b"nurse", b"nurse!")
    elif how == "stale":
        headers = signed_headers(raw, stamp=int(time.time()) - 301)
    elif how == "from the future":
        headers = signed_headers(raw, stamp=int(time.time()) + 301)
    elif how == "no timestamp":
        del headers["X-Chatwoot-Timestamp"]
    elif how == "unsigned":
        headers = {"Content-Type": "application/json"}
    status, body = await post_raw(client, raw, headers, query="?token=anything")
    assert (status, body["error"]) == (401, error)
    assert fake.attempts == [] and store.list_tickets() == []


async def test_a_delivery_id_is_used_once(signed_chatwoot, fake) -> None:  # type: ignore[no-untyped-def]
    client, store = signed_chatwoot
    raw = json.dumps(incoming("can i talk to a nurse")).encode()
    headers = signed_headers(raw, delivery="6f1d3c1e-delivery-1")
    first = await post_raw(client, raw, headers)
    assert first[0] == 200 and first[1]["type"] == "handoff"
    # Replayed as captured: acknowledged (a non-2xx would make Chatwoot hand over), not acted on.
    assert await post_raw(client, raw, headers) == (200, {"ignored": "duplicate delivery"})
    # The same delivery id re-signed over another message is still used up.
    other = incoming("i want to speak to someone")
    other["id"] = 990
    raw2 = json.dumps(other).encode()
    replay = await post_raw(client, raw2, signed_headers(raw2, delivery="6f1d3c1e-delivery-1"))
    assert replay == (200, {"ignored": "duplicate delivery"})
    assert len(store.list_tickets()) == 1 and len(fake.toggles()) == 1


async def test_older_chatwoot_keeps_the_token(aiohttp_client, tmp_path, fake) -> None:  # type: ignore[no-untyped-def]
    # Both set: a Chatwoot that does not sign yet still gets in with ?token=.
    app, _ = make_app(tmp_path, chatwoot_url=fake.url, chatwoot_bot_token=BOT_TOKEN,
                      chatwoot_webhook_token=HOOK_TOKEN, chatwoot_webhook_secret=CW_SECRET)
    client = await aiohttp_client(app)
    assert (await deliver(client, incoming("hello")))[1]["type"] == "smalltalk"
    assert (await deliver(client, incoming("hello"), token="wrong"))[0] == 401
    # A signed call is judged on its signature, whatever the URL says.
    raw = json.dumps(incoming("what is a kyphoplasty", id=1)).encode()
    bad = signed_headers(raw, secret="not-the-secret")
    assert (await post_raw(client, raw, bad, query=f"?token={HOOK_TOKEN}"))[0] == 401


# ------------------------------------- Chatwoot: a photo or voice note, no text
#
# Fixture tests/fixtures/chatwoot/message_created_incoming_attachment_only.json:
# Message#webhook_data (Chatwoot app/models/message.rb, sent by
# app/listeners/agent_bot_listener.rb) for a WhatsApp voice note: `content`
# null, `attachments` as Attachment#push_event_data (file_type, data_url...).


async def test_an_attachment_without_text_gets_a_request_for_words(chatwoot, fake) -> None:  # type: ignore[no-untyped-def]
    client, store = chatwoot
    payload = fixture("chatwoot", "message_created_incoming_attachment_only")
    status, body = await deliver(client, payload)
    assert status == 200 and body["type"] == "attachment" and body["handoff"] is False
    [reply] = fake.messages()
    assert "type your question" in reply["content"] and "911" in reply["content"]
    assert fake.delivered[0]["path"] == "/api/v1/accounts/7/conversations/44/messages"
    assert not fake.toggles() and store.list_tickets() == []
    # Chatwoot retrying the same message does not ask twice.
    assert (await deliver(client, payload))[1] == {"ignored": "duplicate delivery"}
    assert len(fake.delivered) == 1


async def test_an_attachment_without_text_can_hand_over(aiohttp_client, tmp_path, fake) -> None:  # type: ignore[no-untyped-def]
    app, _ = make_app(tmp_path, chatwoot_url=fake.url, chatwoot_bot_token=BOT_TOKEN,
                      chatwoot_webhook_token=HOOK_TOKEN, chatwoot_attachments="handoff")
    client = await aiohttp_client(app)
    status, body = await deliver(client, fixture("chatwoot",
                                                 "message_created_incoming_attachment_only"))
    assert status == 200 and body["handoff"] is True
    assert "passed this conversation to our team" in fake.messages()[0]["content"]
    [note] = fake.messages(private=True)
    assert "1 attachment(s) (audio)" in note["content"]
    assert [t["body"] for t in fake.toggles()] == [{"status": "open"}]
    assert fake.delivered[-1]["path"].endswith("/toggle_status")


def test_the_attachment_setting_takes_only_its_choices() -> None:
    assert load_settings(environ={"FAQBOT_CHATWOOT_ATTACHMENTS": "Handoff"}
                         ).chatwoot_attachments == "handoff"
    with pytest.raises(ValueError, match="chatwoot_attachments"):
        load_settings(environ={"FAQBOT_CHATWOOT_ATTACHMENTS": "ignore"})


# ------------------------------------------------------------ the reply budget
#
# Chatwoot's lib/webhooks/trigger.rb posts with `timeout: 5` and, on any error
# (a non-2xx, or no answer in 5 s) for message_created/message_updated in a
# pending conversation, marks the message failed and opens the conversation
# (hands over); Dialogflow ES gives fulfillment about 5 s. The adapters answer
# within the reply budget (3.5 s; 0.2 s here) whatever the engine does.


def slow_engine(app, monkeypatch, seconds: float, *, fail: bool = False) -> list[str]:  # type: ignore[no-untyped-def]
    import time

    from bot.web.keys import BOT

    bot = app[BOT]
    original = bot.reply
    asked: list[str] = []

    def reply(text: str, session_id: str | None = None):  # type: ignore[no-untyped-def]
        asked.append(text)
        time.sleep(seconds)
        if fail:
            raise RuntimeError("engine broke")
        return original(text, session_id)

    monkeypatch.setattr(bot, "reply", reply)
    return asked


async def budgeted_chatwoot(aiohttp_client, tmp_path, fake, monkeypatch, seconds: float,  # type: ignore[no-untyped-def]
                            fail: bool = False):
    from bot.web.replies import REPLY_BUDGET

    app, store = make_app(tmp_path, chatwoot_url=fake.url, chatwoot_bot_token=BOT_TOKEN,
                          chatwoot_webhook_token=HOOK_TOKEN)
    app[CHATWOOT].backoff = 0.01
    app[REPLY_BUDGET] = 0.2
    slow_engine(app, monkeypatch, seconds, fail=fail)
    return await aiohttp_client(app), store


async def test_a_slow_reply_gets_a_holding_message_then_the_answer(  # type: ignore[no-untyped-def]
        aiohttp_client, tmp_path, fake, monkeypatch) -> None:
    import time

    client, _ = await budgeted_chatwoot(aiohttp_client, tmp_path, fake, monkeypatch, 1.0)
    started = time.monotonic()
    status, body = await deliver(client, incoming("what is a kyphoplasty"), wait=False)
    assert time.monotonic() - started < 0.9  # Chatwoot has its answer before the engine
    assert (status, body["type"]) == (200, "pending")
    await wait_for_deliveries(client.server.app)
    log = [m["content"] for m in fake.messages()]
    assert log[0].startswith("One moment")
    assert "broken bone in the spine" in log[-1] and not fake.toggles()
    # Chatwoot retrying while the engine was busy is not answered twice.
    assert (await deliver(client, incoming("what is a kyphoplasty")))[1] == {
        "ignored": "duplicate delivery"}


async def test_a_reply_that_never_comes_is_handed_over(  # type: ignore[no-untyped-def]
        aiohttp_client, tmp_path, fake, monkeypatch) -> None:
    client, _ = await budgeted_chatwoot(aiohttp_client, tmp_path, fake, monkeypatch, 1.0)
    client.server.app[CHATWOOT].late_limit = 0.3
    status, body = await deliver(client, incoming("what is a kyphoplasty"))
    assert body["type"] == "pending"
    log = [m["content"] for m in fake.messages()]
    assert log[0].startswith("One moment") and "passed this conversation" in log[-1]
    assert "could not reply" in fake.messages(private=True)[0]["content"]
    assert [t["body"] for t in fake.toggles()] == [{"status": "open"}]


async def test_an_engine_failure_is_handed_over_not_a_500(  # type: ignore[no-untyped-def]
        aiohttp_client, tmp_path, fake, monkeypatch) -> None:
    # A 500 would make Chatwoot hand over too, but with only its own error note.
    client, _ = await budgeted_chatwoot(aiohttp_client, tmp_path, fake, monkeypatch, 0.0,
                                        fail=True)
    status, body = await deliver(client, incoming("what is a kyphoplasty"))
    assert (status, body["type"]) == (200, "error")
    assert "passed this conversation" in fake.messages()[-1]["content"]
    assert fake.messages(private=True) and fake.toggles()


# Dialogflow: tests/fixtures/dialogflow/webhook_request_fallback_intent.json is a
# WebhookRequest (googleapis google/cloud/dialogflow/v2/webhook.proto:
# responseId, session, queryResult, originalDetectIntentRequest); answers are
# WebhookResponse (fulfillmentText, fulfillmentMessages, source, payload,
# outputContexts with Context name/lifespanCount/parameters, context.proto).


async def test_dialogflow_sets_an_output_context_with_the_session(dialogflow) -> None:  # type: ignore[no-untyped-def]
    client, _ = dialogflow
    payload = df_request("what is a kyphoplasty")
    status, body = await df_post(client, payload)
    assert status == 200
    [context] = body["outputContexts"]
    assert context["name"] == payload["session"] + "/contexts/faqbot"
    assert context["lifespanCount"] >= 1
    assert context["parameters"]["faqbot_session"] == payload["session"]
    assert context["parameters"]["procedure"] == "vertebroplasty-kyphoplasty"
    assert context["parameters"]["faq_id"] == "vert-overview-what-is"


async def dialogflow_slow(aiohttp_client, tmp_path, monkeypatch, seconds: float):  # type: ignore[no-untyped-def]
    from bot.web.replies import REPLY_BUDGET

    app, store = make_app(tmp_path)
    app[REPLY_BUDGET] = 0.2
    asked = slow_engine(app, monkeypatch, seconds)
    return await aiohttp_client(app), store, asked


async def test_dialogflow_slow_reply_holds_then_answers_the_question_asked_again(  # type: ignore[no-untyped-def]
        aiohttp_client, tmp_path, monkeypatch) -> None:
    import asyncio
    import time

    client, _, asked = await dialogflow_slow(aiohttp_client, tmp_path, monkeypatch, 0.6)
    payload = df_request("what is a kyphoplasty")
    started = time.monotonic()
    status, body = await df_post(client, payload)
    assert time.monotonic() - started < 0.55
    assert status == 200 and body["payload"]["faqbot"]["type"] == "pending"
    assert "send your question again" in body["fulfillmentText"]
    assert body["outputContexts"][0]["parameters"]["faqbot_session"] == payload["session"]
    await asyncio.sleep(0.6)
    status, body = await df_post(client, df_request("What is a kyphoplasty"))
    assert body["payload"]["faqbot"]["faq_id"] == "vert-overview-what-is"
    assert "broken bone in the spine" in body["fulfillmentText"]
    assert asked == ["what is a kyphoplasty"]  # the engine was asked once


async def test_dialogflow_late_emergency_is_given_first_on_the_next_turn(  # type: ignore[no-untyped-def]
        aiohttp_client, tmp_path, monkeypatch) -> None:
    import asyncio

    client, store, _ = await dialogflow_slow(aiohttp_client, tmp_path, monkeypatch, 0.4)
    _, body = await df_post(client, df_request("crushing chest pain now"))
    assert body["payload"]["faqbot"]["type"] == "pending"
    await asyncio.sleep(0.5)
    _, body = await df_post(client, df_request("hello"))
    faqbot = body["payload"]["faqbot"]
    assert faqbot["emergency"] is True and faqbot["handoff"] is True
    assert body["fulfillmentText"].index("911") < len(body["fulfillmentText"]) // 2 + 1
    assert store.get_ticket(faqbot["ticket_id"])["urgent"] is True


def test_integrations_doc_says_what_chatwoot_does_when_a_call_fails() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "integrations.md").read_text()
    section = doc[doc.index("### When a call fails"):]
    for fact in ("5 s", "open", "401", "503", "failed", "Invalid webhook URL"):
        assert fact in section, fact
    for header in ("X-Chatwoot-Signature", "X-Chatwoot-Timestamp", "X-Chatwoot-Delivery",
                   "chatwoot_webhook_secret", "chatwoot_attachments", "submitted_values",
                   "outputContexts"):
        assert header in doc, header
