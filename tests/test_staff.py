"""The staff console: auth, CSRF, queue, ticket page, replies, status changes, teaching."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.assembly import build_bot
from bot.config import load_settings
from bot.store import Store
from bot.web.app import create_app
from bot.web.auth import COOKIE, hash_password
from bot.web.keys import BOT, SETTINGS
from bot.web.poller import sync_corpus_once

ROOT = Path(__file__).resolve().parent.parent
# The console is tested on a corpus of its own, so teaching the bundled corpus
# (or any valid edit of it) cannot change what these tests see.
FIXTURE_CORPUS = ROOT / "tests" / "fixtures" / "corpus"
USER, PASSWORD = "nurse.jo", "correct-horse-battery"
CLINICIAN = "dr.lee"
TOKEN = "tok-123"
# Questions the fixture corpus does not answer; tests use the first that falls back.
UNANSWERED = (
    "can my cat sleep on the bed after my kyphoplasty",
    "is it ok for my cat to sleep on my bed once i am home from the spine cement procedure",
    "can my cat sleep on the bed",
    "can my parrot sit on my shoulder after the kyphoplasty",
)
TEACH_ID = "vert-recovery-walking"
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(FIXTURE_CORPUS, target, ignore=shutil.ignore_patterns("*.md"))
    return target


@pytest.fixture
def store(tmp_path: Path):
    store = Store("sqlite:///" + str(tmp_path / "t.db"))
    store.add_user(USER, hash_password(PASSWORD))
    store.add_user(CLINICIAN, hash_password(PASSWORD), role="clinician")
    yield store
    store.close()


@pytest.fixture
async def client(aiohttp_client, tmp_path, corpus_dir, store):
    settings = load_settings().replace(
        db="sqlite:///" + str(tmp_path / "t.db"), corpus=str(corpus_dir),
        data_dir=str(tmp_path / "data"), secure_cookies=False, staff_token=TOKEN, rate_limit=0)
    bot = build_bot(settings, tickets=store)
    return await aiohttp_client(create_app(settings, bot, store))


async def login(client, username: str = USER, password: str = PASSWORD):
    page = await client.get("/staff/login")
    assert page.status == 200
    csrf = CSRF_RE.search(await page.text()).group(1)
    return await client.post("/staff/login", data={"csrf": csrf, "username": username,
                                                   "password": password},
                             allow_redirects=False)


async def csrf_of(client) -> str:
    page = await client.get("/staff")
    assert page.status == 200
    return CSRF_RE.search(await page.text()).group(1)


async def ask(client, text: str, session_id: str | None = None) -> dict:
    body = {"text": text} | ({"session_id": session_id} if session_id else {})
    response = await client.post("/api/v1/messages", json=body)
    assert response.status == 200
    return await response.json()


async def unanswered(client) -> tuple[str, dict]:
    for text in UNANSWERED:
        reply = await ask(client, text)
        if reply["type"] == "fallback" and reply["ticket_id"]:
            return text, reply
    pytest.fail("the fixture corpus answers every sample question: add one it does not")


# ---------------------------------------------------------------- auth


HTML_GETS = ["/staff", "/staff/tickets/T123", "/staff/insights", "/staff/audit"]
POSTS = ["/staff/logout", "/staff/tickets/T123/reply", "/staff/tickets/T123/resolve",
         "/staff/tickets/T123/dismiss", "/staff/tickets/T123/teach"]


async def test_every_route_needs_login(client):
    for path in HTML_GETS:
        response = await client.get(path, allow_redirects=False)
        assert response.status == 302, path
        assert response.headers["Location"].startswith("/staff/login"), path
    for path in POSTS:
        response = await client.post(path, data={"csrf": "x"}, allow_redirects=False)
        assert response.status == 302, path
        assert response.headers["Location"].startswith("/staff/login"), path
    for path in ("/staff/api/tickets", "/staff/api/tickets/T123"):
        response = await client.get(path)
        assert response.status == 401
        assert (await response.json())["status"] == 401


async def test_forged_cookie_is_refused(client):
    client.session.cookie_jar.update_cookies({COOKIE: f"{USER}|9999999999|deadbeef"})
    response = await client.get("/staff", allow_redirects=False)
    assert response.status == 302


async def test_wrong_password_fails(client, store):
    response = await login(client, password="wrong-password-123")
    assert response.status == 401
    assert "Wrong username or password" in await response.text()
    assert (await client.get("/staff", allow_redirects=False)).status == 302
    response = await login(client, username="nobody")
    assert response.status == 401
    assert any(e["action"] == "login-failed" for e in store.audit_entries())


async def test_login_sets_a_safe_cookie_and_logout_ends_it(client):
    response = await login(client)
    assert response.status == 303
    cookie = response.cookies[COOKIE]
    assert cookie["httponly"] and cookie["path"] == "/staff"
    assert cookie["samesite"] == "Strict"
    page = await client.get("/staff")
    assert page.status == 200
    text = await page.text()
    assert "Ticket queue" in text and USER in text
    assert page.headers["Cache-Control"] == "no-store"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    response = await client.post("/staff/logout", data={"csrf": await csrf_of(client)},
                                 allow_redirects=False)
    assert response.status == 303
    assert (await client.get("/staff", allow_redirects=False)).status == 302
    # The old cookie, replayed after logout, opens nothing.
    client.session.cookie_jar.update_cookies({COOKIE: cookie.value})
    assert (await client.get("/staff", allow_redirects=False)).status == 302


async def test_a_password_reset_or_removal_ends_sessions(client, store):
    assert (await login(client)).status == 303
    assert (await client.get("/staff", allow_redirects=False)).status == 200
    store.add_user(USER, hash_password(PASSWORD))  # a reset, same password even
    assert (await client.get("/staff", allow_redirects=False)).status == 302
    assert (await login(client)).status == 303
    store.remove_user(USER)
    assert (await client.get("/staff", allow_redirects=False)).status == 302


def test_staff_sessions_time_out(store):
    token = store.start_staff_session(USER)
    assert store.staff_session_user(token, idle=60, absolute=60) == USER
    assert store.staff_session_user(token, idle=-1, absolute=60) is None
    # Ended for good: a later check with generous limits still fails.
    assert store.staff_session_user(token, idle=3600, absolute=3600) is None


async def test_sign_in_is_throttled_before_argon2_runs(client, store, monkeypatch):
    import bot.web.staff.signin as staff

    for _ in range(10):
        assert (await login(client, password="wrong-password-123")).status == 401
    calls = []
    monkeypatch.setattr(staff, "verify_password", lambda *a: calls.append(a) or True)
    blocked = await login(client)  # the right password, still refused
    assert blocked.status == 429 and int(blocked.headers["Retry-After"]) > 0
    assert calls == []
    failed_rows = [e for e in store.audit_entries() if e["action"] == "login-failed"]
    assert len(failed_rows) == 10


def test_the_throttle_counts_per_user_and_per_client() -> None:
    from bot.web.auth import LoginThrottle

    throttle = LoginThrottle(per_user=3, per_client=5, window=100)
    for _ in range(3):
        throttle.failed("a", "1.2.3.4", now=1000)
    assert throttle.retry_after("a", "1.2.3.4", now=1001) > 0
    assert throttle.retry_after("b", "1.2.3.4", now=1001) == 0
    assert throttle.retry_after("a", "5.6.7.8", now=1001) == 0
    for name in ("b", "c"):
        throttle.failed(name, "1.2.3.4", now=1001)
    assert throttle.retry_after("d", "1.2.3.4", now=1002) > 0
    assert throttle.retry_after("a", "1.2.3.4", now=1200) == 0


async def test_login_needs_its_csrf_token(client):
    await client.get("/staff/login")
    response = await client.post("/staff/login", data={"username": USER, "password": PASSWORD},
                                 allow_redirects=False)
    assert response.status == 403


async def test_post_without_csrf_is_forbidden(client, store):
    reply = await ask(client, "what's the weather tomorrow")
    await login(client)
    for action in ("reply", "resolve", "dismiss", "teach"):
        url = f"/staff/tickets/{reply['ticket_id']}/{action}"
        assert (await client.post(url, data={"text": "hi"})).status == 403
        assert (await client.post(url, data={"text": "hi", "csrf": "wrong"})).status == 403
    assert (await client.post("/staff/logout")).status == 403
    assert store.get_ticket(reply["ticket_id"])["status"] == "open"


# ---------------------------------------------------------------- queue and ticket


async def test_fallback_shows_in_the_queue(client):
    reply = await ask(client, "what's the weather tomorrow")
    assert reply["type"] == "fallback" and reply["ticket_id"]
    await login(client)
    text = await (await client.get("/staff")).text()
    assert reply["ticket_id"] in text
    assert "weather tomorrow" in text
    assert "<caption>" in text
    text = await (await client.get("/staff?kind=emergency")).text()
    assert reply["ticket_id"] not in text
    text = await (await client.get("/staff?q=weather&status=")).text()
    assert reply["ticket_id"] in text


async def test_urgent_emergency_comes_first_with_a_badge(client):
    await ask(client, "what's the weather tomorrow")
    emergency = await ask(client, "I can't breathe and my chest hurts")
    assert emergency["type"] == "emergency"
    await ask(client, "what is the capital of france")
    await login(client)
    text = await (await client.get("/staff")).text()
    first_row = text.index("<tbody>")
    assert text.index(emergency["ticket_id"], first_row) < text.index("</tr>", first_row)
    assert 'class="badge urgent"' in text


async def test_patient_text_is_escaped(client, store):
    reply = await ask(client, "<script>alert(1)</script> what about the weather <b>now</b>")
    ticket_id = reply["ticket_id"]
    assert ticket_id
    await login(client)
    for path in (f"/staff/tickets/{ticket_id}", "/staff", "/staff/insights"):
        text = await (await client.get(path)).text()
        assert "<script>" not in text, path
        assert "<b>now" not in text, path
        assert "&lt;script&gt;" in text, path
    assert any(e["action"] == "view" and e["ticket_id"] == ticket_id
               for e in store.audit_entries())


async def test_ticket_page_shows_transcript_and_candidates(client):
    session = "s-transcript"
    first = await ask(client, "what is interventional radiology", session)
    assert first["type"] == "answer"
    reply = await ask(client, "what's the weather tomorrow", session)
    assert reply["type"] == "fallback"
    _, gap = await unanswered(client)
    await login(client)
    text = await (await client.get(f"/staff/tickets/{reply['ticket_id']}")).text()
    assert "what is interventional radiology" in text
    assert first["faq_id"] in text
    text = await (await client.get(f"/staff/tickets/{gap['ticket_id']}")).text()
    assert "Score" in text and TEACH_ID in text
    assert 'type="radio"' in text
    assert (await client.get("/staff/tickets/TNOPE")).status == 404


# ---------------------------------------------------------------- actions


async def test_reply_reaches_the_patient(client, store):
    reply = await ask(client, "what's the weather tomorrow", "s-reply")
    ticket_id = reply["ticket_id"]
    await login(client)
    csrf = await csrf_of(client)
    response = await client.post(f"/staff/tickets/{ticket_id}/reply",
                                 data={"csrf": csrf, "text": "We only answer care questions."})
    assert response.status == 200
    assert "Reply sent" in await response.text()
    anyone = await client.get("/api/v1/sessions/s-reply/messages")
    assert anyone.status == 401 and "messages" not in await anyone.json()
    messages = await (await client.get("/api/v1/sessions/s-reply/messages", headers={
        "X-Session-Token": reply["session_token"]})).json()
    assert [m["text"] for m in messages["messages"]] == ["We only answer care questions."]
    assert store.get_ticket(ticket_id)["status"] == "answered"
    empty = await client.post(f"/staff/tickets/{ticket_id}/reply", data={"csrf": csrf,
                                                                         "text": "  "})
    assert empty.status == 400


async def test_resolve_and_dismiss(client, store):
    one = (await ask(client, "what's the weather tomorrow"))["ticket_id"]
    two = (await ask(client, "what is the capital of france"))["ticket_id"]
    await login(client)
    csrf = await csrf_of(client)
    assert (await client.post(f"/staff/tickets/{one}/resolve", data={"csrf": csrf})).status == 200
    assert (await client.post(f"/staff/tickets/{two}/dismiss", data={"csrf": csrf})).status == 200
    assert store.get_ticket(one)["status"] == "resolved"
    assert store.get_ticket(two)["status"] == "dismissed"
    assert store.get_ticket(one)["handled_by"] == USER
    text = await (await client.get("/staff")).text()  # default filter: open
    assert one not in text and two not in text
    actions = {(e["action"], e["ticket_id"]) for e in store.audit_entries()}
    assert {("resolve", one), ("dismiss", two)} <= actions


# ---------------------------------------------------------------- teaching


def _alternates(corpus_dir: Path, entry_id: str) -> list[str]:
    data = yaml.safe_load((corpus_dir / "vertebroplasty-kyphoplasty.yaml").read_text())
    entry = next(e for e in data["entries"] if e["id"] == entry_id)
    return entry["alternates"]


async def teach_alternate(client, question: str, ticket_id: str, entry_id: str = TEACH_ID):
    return await client.post(f"/staff/tickets/{ticket_id}/teach", data={
        "csrf": await csrf_of(client), "mode": "alternate", "entry_id": entry_id,
        "phrasing": question}, allow_redirects=False)


async def switch_user(client, username: str) -> None:
    await client.post("/staff/logout", data={"csrf": await csrf_of(client)})
    assert (await login(client, username)).status == 303


def only_draft(store) -> str:
    drafts = store.list_drafts()
    assert len(drafts) == 1
    return drafts[0]["id"]


def validate(corpus_dir: Path) -> None:
    """The corpus checks a deployment runs, on what the console wrote."""
    result = subprocess.run([sys.executable, "-m", "bot.cli", "validate", "--corpus",
                             str(corpus_dir)], capture_output=True, text=True, cwd=ROOT,
                            env={**os.environ, "FAQBOT_CONFIG": ""})
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 error(s)" in result.stdout


async def test_a_taught_phrasing_is_a_draft_until_a_clinician_publishes_it(
        client, store, corpus_dir):
    assert TEACH_ID in client.app[BOT].corpus.by_id
    question, before = await unanswered(client)
    ticket_id = before["ticket_id"]
    file = corpus_dir / "vertebroplasty-kyphoplasty.yaml"
    original = file.read_text()
    await login(client)
    response = await teach_alternate(client, question, ticket_id)
    assert response.status == 303, await response.text()
    # A draft: the corpus, the answers and the ticket are as they were.
    assert file.read_text() == original
    assert (await ask(client, question))["type"] == "fallback"
    assert store.get_ticket(ticket_id)["status"] == "open"
    draft_id = only_draft(store)
    listing = await (await client.get("/staff/drafts")).text()
    assert draft_id in listing and "approving them needs the clinician role" in listing
    # The author is not a clinician: no forms, and a forged POST is refused.
    page = await (await client.get(f"/staff/drafts/{draft_id}")).text()
    assert "Only a clinician may approve" in page and "Approve and publish" not in page
    refused = await client.post(f"/staff/drafts/{draft_id}/publish",
                                data={"csrf": await csrf_of(client)})
    assert refused.status == 403 and file.read_text() == original

    await switch_user(client, CLINICIAN)
    tickets_before = len(store.list_tickets())
    page = await (await client.get(f"/staff/drafts/{draft_id}")).text()
    assert "Approve and publish" in page
    assert len(store.list_tickets()) == tickets_before  # the preview opens no ticket
    assert f"+      - {question}" in page  # the diff of the YAML file
    assert f"<strong>answers with {TEACH_ID}" in page  # the ticket's question changes
    published = await client.post(f"/staff/drafts/{draft_id}/publish",
                                  data={"csrf": await csrf_of(client)}, allow_redirects=False)
    assert published.status == 303, await published.text()
    assert question in _alternates(corpus_dir, TEACH_ID)
    after = await ask(client, question)
    assert after["type"] == "answer" and after["faq_id"] == TEACH_ID
    assert store.get_ticket(ticket_id)["status"] == "resolved"
    assert store.get_draft(draft_id)["status"] == "published"
    actions = {(e["action"], e["username"]) for e in store.audit_entries()
               if e["ticket_id"] == ticket_id}
    assert {("draft", USER), ("publish", CLINICIAN)} <= actions
    audit = await (await client.get("/staff/audit")).text()
    assert "publish" in audit and ticket_id in audit
    # Recorded for the other replicas, which poll it.
    assert store.corpus_version() == client.app[BOT].corpus.version
    validate(corpus_dir)


async def test_a_clinician_cannot_approve_their_own_draft(client, store, corpus_dir):
    question, before = await unanswered(client)
    await login(client, CLINICIAN)
    assert (await teach_alternate(client, question, before["ticket_id"])).status == 303
    draft_id = only_draft(store)
    page = await (await client.get(f"/staff/drafts/{draft_id}")).text()
    assert "other than its author" in page and "Approve and publish" not in page
    refused = await client.post(f"/staff/drafts/{draft_id}/publish",
                                data={"csrf": await csrf_of(client)})
    assert refused.status == 403
    assert store.get_draft(draft_id)["status"] == "pending"


async def test_a_rejected_draft_is_kept_with_its_reason(client, store, corpus_dir):
    question, before = await unanswered(client)
    original = (corpus_dir / "vertebroplasty-kyphoplasty.yaml").read_text()
    await login(client)
    await teach_alternate(client, question, before["ticket_id"])
    draft_id = only_draft(store)
    await switch_user(client, CLINICIAN)
    empty = await client.post(f"/staff/drafts/{draft_id}/reject",
                              data={"csrf": await csrf_of(client), "reason": " "})
    assert empty.status == 400
    response = await client.post(f"/staff/drafts/{draft_id}/reject", data={
        "csrf": await csrf_of(client), "reason": "Pets are a question for the vet."})
    assert response.status == 200  # redirected to the draft, which shows the reason
    assert "Pets are a question for the vet." in await response.text()
    draft = store.get_draft(draft_id)
    assert draft["status"] == "rejected" and draft["decided_by"] == CLINICIAN
    assert (corpus_dir / "vertebroplasty-kyphoplasty.yaml").read_text() == original
    assert any(e["action"] == "reject" and "vet" in e["detail"] for e in store.audit_entries())


async def test_a_replica_picks_up_a_corpus_published_elsewhere(client, store, corpus_dir):
    """Two apps on one database and one corpus directory: publish on one, the other follows."""
    settings = client.app[SETTINGS]
    other = create_app(settings, build_bot(settings, tickets=store), store)
    seen = store.corpus_version()
    question, before = await unanswered(client)
    await login(client)
    await teach_alternate(client, question, before["ticket_id"])
    await switch_user(client, CLINICIAN)
    await client.post(f"/staff/drafts/{only_draft(store)}/publish",
                      data={"csrf": await csrf_of(client)})
    assert other[BOT].corpus.version != client.app[BOT].corpus.version
    assert other[BOT].reply(question).type == "fallback"
    assert await sync_corpus_once(other, seen) == client.app[BOT].corpus.version
    assert other[BOT].corpus.version == client.app[BOT].corpus.version
    reply = other[BOT].reply(question)
    assert reply.type == "answer" and reply.faq_id == TEACH_ID


async def test_teaching_a_phrasing_of_another_entry_is_refused(client, store, corpus_dir):
    _, reply = await unanswered(client)
    await login(client)
    # "walking after kyphoplasty" already belongs to vert-recovery-walking.
    response = await teach_alternate(client, "walking after kyphoplasty", reply["ticket_id"],
                                     "vert-recovery-driving")
    assert response.status == 400
    assert "already a way of asking" in await response.text()
    assert store.list_drafts() == []


async def test_drafting_and_publishing_a_new_entry(client, store, corpus_dir):
    question = "Do you validate parking tickets for the garage?"
    asked = "do you validate parking tickets for the garage"
    ticket_id = (await ask(client, asked))["ticket_id"]
    assert ticket_id
    before = (corpus_dir / "general.yaml").read_text()
    await login(client)
    response = await client.post(f"/staff/tickets/{ticket_id}/teach", data={
        "csrf": await csrf_of(client), "mode": "new", "question": question,
        "procedure": "general", "topic": "logistics",
        "answer": "Yes. Bring your parking ticket to the front desk when you check in, and "
                  "the staff there will stamp it for you so the garage does not charge you "
                  "for the time of your visit, which can take most of a long day."},
        allow_redirects=False)
    assert response.status == 303, await response.text()
    assert (corpus_dir / "general.yaml").read_text() == before
    assert (await ask(client, asked))["type"] == "fallback"
    draft_id = only_draft(store)

    await switch_user(client, CLINICIAN)
    page = await (await client.get(f"/staff/drafts/{draft_id}")).text()
    assert "Still needed before publishing" in page and "at least 5 other ways" in page
    assert "reading grade" in page
    form = {"csrf": await csrf_of(client), "source_name": "Hospital parking office",
            "source_url": "https://example-hospital.org/parking", "review_by": "2027-06-30",
            "more_alternates": "parking validation\ndo you stamp parking tickets\n"
                               "free parking for patients\nwill the garage charge me"}
    short = await client.post(f"/staff/drafts/{draft_id}/publish", data=form)
    assert short.status == 400 and "at least 5 other ways" in await short.text()
    form["more_alternates"] += "\ncan i get my parking paid"
    hard = await client.post(f"/staff/drafts/{draft_id}/publish", data=form)
    assert hard.status == 400 and "reading grade" in await hard.text()
    # The clinician may reword the answer while approving it.
    form["answer"] = ("Yes. Bring your parking ticket to the front desk. "
                      "The staff will stamp it. Then the garage will not charge you.")
    published = await client.post(f"/staff/drafts/{draft_id}/publish", data=form,
                                  allow_redirects=False)
    assert published.status == 303, await published.text()

    text = (corpus_dir / "general.yaml").read_text()
    assert "    answer: >-\n      Yes. Bring your parking ticket" in text  # a readable block
    entry = yaml.safe_load(text)["entries"][-1]
    assert entry["question"] == question and entry["owner"] == "Staff draft"
    assert entry["answer"] == form["answer"]
    assert entry["sources"] == [{"name": "Hospital parking office",
                                 "url": "https://example-hospital.org/parking"}]
    assert asked in entry["alternates"] and len(entry["alternates"]) == 6
    assert str(entry["review_by"]) == "2027-06-30"
    after = await ask(client, asked)
    assert after["type"] == "answer" and after["faq_id"] == entry["id"]
    assert store.get_ticket(ticket_id)["status"] == "resolved"
    validate(corpus_dir)


# ---------------------------------------------------------------- insights and API


async def test_insights_page_groups_gaps(client):
    await ask(client, "what's the weather tomorrow")
    await ask(client, "what is the weather tomorrow please")
    await login(client)
    text = await (await client.get("/staff/insights")).text()
    assert "Gaps worth teaching" in text and "weather" in text


async def test_bearer_token_api(client):
    reply = await ask(client, "what's the weather tomorrow")
    response = await client.get("/staff/api/tickets?status=open",
                                headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status == 200
    data = await response.json()
    assert reply["ticket_id"] in [t["id"] for t in data["tickets"]]
    wrong = await client.get("/staff/api/tickets", headers={"Authorization": "Bearer nope"})
    assert wrong.status == 401
    bad = await client.get("/staff/api/tickets?status=bogus",
                           headers={"Authorization": f"Bearer {TOKEN}"})
    assert bad.status == 400
    one = await client.get(f"/staff/api/tickets/{reply['ticket_id']}",
                           headers={"Authorization": f"Bearer {TOKEN}"})
    assert (await one.json())["id"] == reply["ticket_id"]


async def test_api_accepts_the_session_cookie(client):
    await login(client)
    response = await client.get("/staff/api/tickets")
    assert response.status == 200


async def test_patient_text_is_isolated_and_wraps(client, store):
    reply = await ask(client, "what is the \u202eweather" + "x" * 900, "s-bidi")
    await login(client)
    page = await client.get(f"/staff/tickets/{reply['ticket_id']}")
    text = await page.text()
    assert "\u202e" not in text and "<bdi>" in text
    css = await (await client.get("/static/staff.css")).text()
    assert "overflow-wrap: anywhere" in css


# ---------------------------------------------------------------- language and kinds


async def test_a_spanish_ticket_shows_the_language_and_asks_for_a_spanish_reply(client, store):
    ticket_id = store.open_ticket(kind="handoff", session_id="s-es",
                                  message="[es] quiero hablar con una enfermera")
    await login(client)
    page = await (await client.get(f"/staff/tickets/{ticket_id}")).text()
    assert "Patient's language" in page and "Spanish" in page
    assert '<blockquote class="message" lang="es"><bdi>quiero hablar' in page
    assert "Message to the patient, in Spanish" in page and "please reply in Spanish" in page
    english = store.open_ticket(kind="handoff", session_id="s-en", message="call me please")
    page = await (await client.get(f"/staff/tickets/{english}")).text()
    assert "in Spanish" not in page and "<dd>English</dd>" in page


async def test_the_teach_form_is_only_on_fallback_tickets(client, store):
    handoff = store.open_ticket(kind="handoff", session_id="s1", message="a nurse please")
    fallback = store.open_ticket(kind="fallback", session_id="s2", message="can my cat sleep")
    await login(client)
    assert "Teach the bot" not in await (await client.get(f"/staff/tickets/{handoff}")).text()
    assert "Teach the bot" in await (await client.get(f"/staff/tickets/{fallback}")).text()


async def test_search_finds_any_entry_by_words_procedure_or_id(client, store):
    _, reply = await unanswered(client)
    page_of = f"/staff/tickets/{reply['ticket_id']}"
    await login(client)
    by_id = await (await client.get(page_of, params={"find": "vert-recovery-driv"})).text()
    assert 'value="vert-recovery-driving"' in by_id and "found by id" in by_id
    by_procedure = await (await client.get(page_of, params={"in": "general"})).text()
    assert "found by procedure" in by_procedure
    assert 'id="s-0" value="gen-' in by_procedure
    by_words = await (await client.get(page_of, params={"find": "when can i drive again"})).text()
    assert 'value="vert-recovery-driving"' in by_words and "found by words" in by_words
    nothing = await (await client.get(page_of, params={"find": "zzqx"})).text()
    assert "No entry matches that search." in nothing
    # A found entry can be chosen like a candidate.
    response = await client.post(f"{page_of}/teach", data={
        "csrf": await csrf_of(client), "mode": "alternate", "entry_id": "gen-logistics-referral",
        "phrasing": "who sends me to you people"}, allow_redirects=False)
    assert response.status == 303, await response.text()


async def test_a_spanish_wording_is_not_taught_into_the_english_corpus(client, store):
    ticket_id = store.open_ticket(kind="fallback", session_id="s-es",
                                  message="[es] puedo dormir con mi gato despues de la cifoplastia")
    await login(client)
    response = await teach_alternate(client, "puedo dormir con mi gato despues de la cifoplastia",
                                     ticket_id)
    assert response.status == 400 and "Spanish twin" in await response.text()
    assert store.list_drafts() == []
    english = await teach_alternate(client, "can i sleep with my cat after kyphoplasty",
                                    ticket_id)
    assert english.status == 303
