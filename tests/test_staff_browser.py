"""The staff console in a real headless Chromium: log in, open a ticket, resolve it."""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.web.auth import hash_password
from tests.live import CHROMIUM, LAUNCH_ARGS, LiveServer

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api")
if not shutil.which(CHROMIUM):
    pytest.skip("Chromium is not installed at /usr/bin/chromium", allow_module_level=True)

AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("staff") / "s.db", secure_cookies=False)
    live.start()
    live.store.add_user("nurse", hash_password("correct-horse-battery"))
    yield live
    live.stop()


def ask(server: LiveServer, text: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{server.url}/api/v1/messages", data=json.dumps({"text": text}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_log_in_and_resolve_a_ticket(server: LiveServer) -> None:
    reply = ask(server, "<b>what's</b> the weather tomorrow, my name is Mary Jones")
    ticket_id = reply["ticket_id"]
    assert reply["type"] == "fallback" and ticket_id
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        # CSP bypass only so axe-core can be injected; the app's own pages need none.
        page = browser.new_context(viewport={"width": 1280, "height": 900},
                                   bypass_csp=True).new_page()
        page.goto(f"{server.url}/staff")
        assert "/staff/login" in page.url
        page.fill("#username", "nurse")
        page.fill("#password", "wrong password here")
        page.click("button[type=submit]")
        assert "/staff/login" in page.url
        page.fill("#username", "nurse")
        page.fill("#password", "correct-horse-battery")
        page.click("button[type=submit]")
        page.wait_for_url(f"{server.url}/staff*")
        assert page.locator(f"text={ticket_id}").count() >= 1
        page.click(f"a[href='/staff/tickets/{ticket_id}']")
        body = page.inner_text("body")
        assert "<b>what" in body  # shown as text, not markup
        assert "Mary Jones" not in body and "[NAME]" in body
        if AXE.exists():
            page.add_script_tag(path=str(AXE))
            result = page.evaluate("""async () => (await axe.run(document, {runOnly: {type: 'tag',
                values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}})).violations
                .filter(v => ['serious', 'critical'].includes(v.impact)).map(v => v.id)""")
            assert result == []
        page.click("text=Mark resolved")
        page.wait_for_load_state()
        browser.close()
    assert server.store.get_ticket(ticket_id)["status"] == "resolved"
    assert any(e["action"] == "resolve" and e["ticket_id"] == ticket_id
               for e in server.store.audit_entries())


def test_the_console_reads_on_a_phone_without_sideways_scrolling(server: LiveServer) -> None:
    reply = ask(server, "what's the weather tomorrow in Supercalifragilisticexpialidociousville "
                        "and the day after, for the football game with my grandchildren")
    ticket_id = reply["ticket_id"]
    assert ticket_id
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
        page.goto(f"{server.url}/staff/login")
        page.fill("#username", "nurse")
        page.fill("#password", "correct-horse-battery")
        page.click("button[type=submit]")
        page.wait_for_url(f"{server.url}/staff*")
        for path in ("/staff?status=", f"/staff/tickets/{ticket_id}", "/staff/drafts",
                     "/staff/audit"):
            page.goto(f"{server.url}{path}")
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, (path, overflow)
        page.goto(f"{server.url}/staff?status=")
        # The queue's rows are cards with labelled lines; the ticket link is reachable.
        assert page.locator(f"a[href='/staff/tickets/{ticket_id}']").first.is_visible()
        browser.close()


@pytest.fixture(scope="module")
def teach_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server on a copy of the fixture corpus: what it publishes stays in the copy."""
    from tests.test_staff import FIXTURE_CORPUS

    tmp = tmp_path_factory.mktemp("teach")
    shutil.copytree(FIXTURE_CORPUS, tmp / "corpus", ignore=shutil.ignore_patterns("*.md"))
    live = LiveServer(tmp / "s.db", secure_cookies=False, corpus=str(tmp / "corpus"),
                      data_dir=str(tmp / "data"))
    live.start()
    live.store.add_user("nurse", hash_password("correct-horse-battery"))
    live.store.add_user("dr.lee", hash_password("correct-horse-battery"), role="clinician")
    yield live
    live.stop()


def sign_in(page: Any, server: LiveServer, username: str) -> None:
    page.goto(f"{server.url}/staff/login")
    page.fill("#username", username)
    page.fill("#password", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/staff*")


def test_a_nurse_teaches_a_clinician_publishes_and_the_bot_answers(
        teach_server: LiveServer) -> None:
    from tests.test_staff import UNANSWERED, validate

    replies = ((q, ask(teach_server, q)) for q in UNANSWERED)
    question, reply = next((q, r) for q, r in replies if r["type"] == "fallback")
    assert reply["ticket_id"]
    ticket_url = f"{teach_server.url}/staff/tickets/{reply['ticket_id']}"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        sign_in(page, teach_server, "nurse")
        page.goto(ticket_url)
        page.fill("#f-find", "vert-recovery-walking")
        page.click("form[role=search] button")
        page.check("input[name=entry_id][value=vert-recovery-walking]")
        page.click("text=Save this wording as a draft")
        page.wait_for_load_state()
        assert "Saved as a draft" in page.inner_text("body")
        assert ask(teach_server, question)["type"] == "fallback"  # not live yet
        page.click("text=Sign out")
        page.wait_for_load_state()

        sign_in(page, teach_server, "dr.lee")
        page.click("nav >> text=Drafts")
        page.click("table.cards a")
        body = page.inner_text("body")
        assert "answers with vert-recovery-walking" in body and question in body
        page.click("text=Approve and publish")
        page.wait_for_load_state()
        assert "Published" in page.inner_text("body")
        browser.close()
    after = ask(teach_server, question)
    assert after["type"] == "answer" and after["faq_id"] == "vert-recovery-walking"
    assert teach_server.store.get_ticket(reply["ticket_id"])["status"] == "resolved"
    validate(Path(teach_server.settings.corpus))
