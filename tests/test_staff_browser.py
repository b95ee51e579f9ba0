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
