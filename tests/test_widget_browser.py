"""The patient chat widget, driven in a real headless Chromium.

Runs the real aiohttp app in a background thread (its own event loop) and
uses Playwright's sync API against it. Skipped when Chromium or Playwright
is missing. Screenshots land in docs/screenshots/.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live import CHROMIUM, LAUNCH_ARGS, LiveServer

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "docs" / "screenshots"
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=1</script>'
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

sync_api = pytest.importorskip("playwright.sync_api")
if not shutil.which(CHROMIUM):
    pytest.skip("Chromium is not installed at /usr/bin/chromium", allow_module_level=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("widget") / "t.db")
    live.start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield pg
    context.close()
    assert not errors, f"browser errors: {errors}"


# ---------------------------------------------------------------- helpers


def ask(page: Any, text: str) -> Any:
    """Type a question, send it, and return the newest bot reply once it arrives."""
    before = page.locator(".msg.bot").count()
    page.locator("#faqbot-input").fill(text)
    page.locator("button.send").click()
    return wait_for_reply(page, before)


def wait_for_reply(page: Any, before: int) -> Any:
    replies = page.locator(".msg.bot")
    sync_api.expect(replies).to_have_count(before + 1, timeout=15000)
    sync_api.expect(page.locator(".typing")).not_to_have_class("typing on")
    return replies.nth(before)


def run_axe(page: Any) -> list[dict[str, Any]]:
    if not AXE.exists():
        pytest.skip("axe-core is not installed; run `npm install` in the project root")
    # Let entrance animations finish first: axe measures colours as drawn, and a
    # bubble caught mid-fade has less contrast than the one the patient reads.
    page.wait_for_function("""() => {
        const root = document.querySelector('.faqbot-host')?.shadowRoot;
        const running = [...document.getAnimations(), ...(root ? root.getAnimations() : [])]
            .filter(a => a.effect && a.effect.getTiming().iterations !== Infinity);
        return running.every(a => a.playState === 'finished');
    }""")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


def describe(violations: list[dict[str, Any]]) -> str:
    return json.dumps([{"id": v["id"], "help": v["help"],
                        "nodes": [n["target"] for n in v["nodes"][:3]]} for v in violations],
                      indent=1)


# ------------------------------------------------------------------ tests


def test_full_page_conversation(server: LiveServer, page: Any) -> None:
    page.goto(server.url + "/")
    assert "procedure" in page.title().lower()
    log = page.locator("[role=log]")
    sync_api.expect(log).to_have_attribute("aria-live", "polite")
    sync_api.expect(page.locator(".disclaimer")).to_contain_text("not medical advice")
    sync_api.expect(page.locator("#faqbot-input")).to_be_focused()

    answer = ask(page, "when can I drive after kyphoplasty")
    sync_api.expect(answer).to_have_attribute("data-type", "answer")
    sync_api.expect(answer).to_contain_text("drive")
    links = answer.locator(".sources a")
    assert links.count() >= 1
    for i in range(links.count()):
        link = links.nth(i)
        assert link.get_attribute("href").startswith(("https://", "http://"))
        assert link.get_attribute("rel") == "noopener noreferrer"
        assert link.get_attribute("target") == "_blank"

    # Thumbs up posts feedback and thanks the patient.
    answer.get_by_role("button", name="Yes, helpful").click()
    sync_api.expect(answer.locator(".thanks")).to_have_text("Thanks for your feedback")

    # A follow-up suggestion sends its question text.
    chip = answer.locator("button.chip").first
    question = chip.inner_text()
    before = page.locator(".msg.bot").count()
    chip.click()
    sync_api.expect(page.locator(".msg.user .text").last).to_have_text(question)
    wait_for_reply(page, before)

    # Talk to staff: a handoff with a reference.
    before = page.locator(".msg.bot").count()
    page.get_by_role("button", name="Talk to staff").click()
    handoff = wait_for_reply(page, before)
    sync_api.expect(handoff).to_have_attribute("data-type", "handoff")
    sync_api.expect(handoff.locator(".ref")).to_contain_text("Reference: T")

    # Emergency: alert role, distinct styling and a tap-to-call link.
    emergency = ask(page, "crushing chest pain right now")
    sync_api.expect(emergency).to_have_attribute("role", "alert")
    sync_api.expect(emergency).to_have_class("msg bot type-emergency")
    call = emergency.locator('a[href^="tel:"]')
    sync_api.expect(call).to_have_attribute("href", "tel:911")
    background = emergency.evaluate("e => getComputedStyle(e).backgroundColor")
    assert background == "rgb(253, 236, 234)"

    # Script-looking text is shown literally and never runs.
    ask(page, XSS)
    sync_api.expect(page.locator(".msg.user").last.locator(".text")).to_have_text(XSS)
    assert page.evaluate("() => window.__xss") is None
    assert page.locator(".msg img, .msg script").count() == 0

    # Care-team replies are polled and labelled.
    ticket = handoff.locator(".ref").inner_text().removeprefix("Reference: ").strip()
    staff_text = "Hello, this is Nurse Kim. <b>Call us</b>."
    assert server.store.reply_to_ticket(ticket, staff_text, "kim")
    staff = page.locator(".msg.staff")
    sync_api.expect(staff).to_have_count(1, timeout=20000)
    sync_api.expect(staff.locator(".who")).to_have_text("Care team")
    sync_api.expect(staff.locator(".text")).to_have_text(staff_text)

    # A reload keeps the conversation.
    count = page.locator(".msg").count()
    page.reload()
    sync_api.expect(page.locator(".msg")).to_have_count(count)
    sync_api.expect(page.locator(".msg.type-emergency")).to_have_attribute("role", "alert")
    sync_api.expect(page.locator(".thanks")).to_have_count(1)
    assert page.evaluate("() => window.__xss") is None


def test_demo_widget_keyboard_and_reload(server: LiveServer, page: Any) -> None:
    page.goto(server.url + "/demo")
    sync_api.expect(page.locator("pre")).to_contain_text("widget.js")
    launcher = page.locator("button.launcher")
    sync_api.expect(launcher).to_have_attribute("aria-expanded", "false")
    assert page.locator("section.panel").is_hidden()
    # The log exists before any message is added.
    assert page.locator("[role=log]").count() == 1

    launcher.focus()
    page.keyboard.press("Enter")
    sync_api.expect(page.locator("section.panel")).to_be_visible()
    sync_api.expect(launcher).to_have_attribute("aria-expanded", "true")
    sync_api.expect(page.locator("#faqbot-input")).to_be_focused()

    page.keyboard.type("when can I drive after kyphoplasty")
    page.keyboard.press("Enter")
    wait_for_reply(page, 0)

    page.keyboard.press("Escape")
    sync_api.expect(page.locator("section.panel")).to_be_hidden()
    sync_api.expect(launcher).to_be_focused()

    # Open state and transcript survive a reload.
    launcher.click()
    page.reload()
    sync_api.expect(page.locator("section.panel")).to_be_visible()
    sync_api.expect(page.locator(".msg.bot")).to_have_count(1)


def test_target_sizes_and_phone_layout(server: LiveServer, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740}, has_touch=True)
    page = context.new_page()
    try:
        page.goto(server.url + "/demo")
        page.locator("button.launcher").click()
        ask(page, "when can I drive after kyphoplasty")
        box = page.locator("section.panel").bounding_box()
        assert box is not None and box["width"] == 360
        sizes = page.evaluate("""() => {
            const root = document.querySelector('.faqbot-host').shadowRoot;
            return [...root.querySelectorAll('button, a, input')]
              .filter(e => e.offsetParent !== null)
              .map(e => { const r = e.getBoundingClientRect();
                          return [e.className || e.tagName, r.width, r.height]; });
        }""")
        small = [s for s in sizes if s[0] != "" and (s[1] < 24 or s[2] < 24)]
        assert not small, small
    finally:
        context.close()


def test_accessibility_scan(server: LiveServer, browser: Any) -> None:
    # axe is injected as an inline script, which the strict CSP would block.
    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        page.goto(server.url + "/")
        ask(page, "when can I drive after kyphoplasty")
        ask(page, "crushing chest pain right now")
        violations = run_axe(page)
        assert not violations, describe(violations)

        page.goto(server.url + "/demo")
        page.locator("button.launcher").click()
        ask(page, "when can I drive after kyphoplasty")
        violations = run_axe(page)
        assert not violations, describe(violations)
    finally:
        context.close()


def test_reduced_motion_is_honoured(server: LiveServer, browser: Any) -> None:
    context = browser.new_context(reduced_motion="reduce")
    page = context.new_page()
    try:
        page.goto(server.url + "/demo")
        page.locator("button.launcher").click()
        animation = page.locator("section.panel").evaluate(
            "e => getComputedStyle(e).animationName")
        assert animation == "none"
    finally:
        context.close()


def test_screenshots(server: LiveServer, browser: Any, tmp_path: Path) -> None:
    # `make test` must leave the checkout clean: the README's screenshots are
    # refreshed only on request (FAQBOT_UPDATE_SCREENSHOTS=1).
    shots_dir = SHOTS if os.environ.get("FAQBOT_UPDATE_SCREENSHOTS") else tmp_path
    shots_dir.mkdir(parents=True, exist_ok=True)
    shots = [("widget-desktop.png", "/demo", {"width": 1280, "height": 800}),
             ("widget-phone.png", "/demo", {"width": 360, "height": 740}),
             ("chat-page.png", "/", {"width": 1280, "height": 800})]
    for name, path, viewport in shots:
        context = browser.new_context(viewport=viewport, reduced_motion="reduce")
        page = context.new_page()
        try:
            page.goto(server.url + path)
            if path == "/demo":
                page.locator("button.launcher").click()
            ask(page, "when can I drive after kyphoplasty")
            if name == "chat-page.png":
                ask(page, "crushing chest pain right now")
            page.locator("#faqbot-input").blur()
            page.evaluate("() => window.scrollTo(0, 0)")
            page.screenshot(path=str(shots_dir / name))
            assert (shots_dir / name).stat().st_size > 10_000
        finally:
            context.close()
