"""The patient chat widget, driven in a real headless Chromium.

Runs the real aiohttp app in a background thread (its own event loop) and
uses Playwright's sync API against it. Skipped when Chromium or Playwright
is missing. The README's screenshots in docs/screenshots/ are rewritten only
by `FAQBOT_UPDATE_SCREENSHOTS=1 .venv/bin/python -m pytest -q
tests/test_widget_browser.py -k screenshots`; a plain run writes them to a
temporary directory, so `make test` leaves the checkout clean.
"""

from __future__ import annotations

import json
import os
import re
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
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TICKET = re.compile(r"T[0-9A-F]{8,}")

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


def assert_axe_clean(page: Any) -> None:
    violations = run_axe(page)
    assert not violations, describe(violations)


def phone_context(browser: Any, **options: Any) -> Any:
    """A 390x844 touch phone; CSP bypassed so that axe can be injected."""
    return browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True,
                               bypass_csp=True, **options)


def shadow_rect(page: Any, selector: str, last: bool = False) -> dict[str, float]:
    return page.evaluate("""([sel, last]) => {
        const all = document.querySelector('.faqbot-host').shadowRoot.querySelectorAll(sel);
        const r = all[last ? all.length - 1 : 0].getBoundingClientRect();
        return {top: r.top, bottom: r.bottom, height: r.height};
    }""", [selector, last])


def assert_in_viewport(page: Any, selector: str) -> None:
    box = shadow_rect(page, selector)
    height = page.viewport_size["height"]
    assert page.evaluate("() => window.scrollY") == 0
    assert box["height"] > 0 and box["top"] >= 0 and box["bottom"] <= height, (selector, box)


def wait_question_in_sight(page: Any) -> None:
    """The patient's last question is inside the conversation area and the window,
    with the start of the reply below it (after any smooth scrolling)."""
    page.wait_for_function("""() => {
        const root = document.querySelector('.faqbot-host').shadowRoot;
        const area = root.querySelector('.scroll').getBoundingClientRect();
        const users = root.querySelectorAll('.msg.user');
        const bots = root.querySelectorAll('.msg.bot');
        const q = users[users.length - 1].getBoundingClientRect();
        const a = bots[bots.length - 1].getBoundingClientRect();
        return q.top >= area.top - 1 && q.bottom <= area.bottom + 1 &&
               q.top >= 0 && q.bottom <= window.innerHeight &&
               a.top > q.top && a.top < area.bottom;
    }""", timeout=5000)


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

    # Talk to staff: a handoff that gives its reference once.
    before = page.locator(".msg.bot").count()
    page.get_by_role("button", name="Talk to staff").click()
    handoff = wait_for_reply(page, before)
    sync_api.expect(handoff).to_have_attribute("data-type", "handoff")
    tickets = TICKET.findall(handoff.inner_text())
    assert len(tickets) == 1, handoff.inner_text()
    ticket = tickets[0]

    # Emergency: alert role, distinct styling and a tap-to-call link.
    emergency = ask(page, "crushing chest pain right now")
    sync_api.expect(emergency).to_have_attribute("role", "alert")
    sync_api.expect(emergency).to_have_class("msg bot type-emergency")
    call = emergency.locator('a[href^="tel:"]')
    sync_api.expect(call).to_have_attribute("href", "tel:911")
    # Said once: no reference number beside "call 911 now".
    assert not TICKET.search(emergency.inner_text())
    background = emergency.evaluate("e => getComputedStyle(e).backgroundColor")
    assert background == "rgb(253, 236, 234)"

    # Script-looking text is shown literally and never runs.
    ask(page, XSS)
    sync_api.expect(page.locator(".msg.user").last.locator(".text")).to_have_text(XSS)
    assert page.evaluate("() => window.__xss") is None
    assert page.locator(".msg img, .msg script").count() == 0

    # Care-team replies are polled and labelled.
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


# ------------------------------------------------- issue 20: the first view


def test_phone_first_view_invites_a_question(server: LiveServer, browser: Any) -> None:
    """At 390x844 the message box, the short disclaimer and at least three starter
    questions are in view on load, on the page and in the opened widget; a starter
    sends its question, whose bubble stays in sight above the answer."""
    context = phone_context(browser)
    page = context.new_page()
    try:
        page.goto(server.url + "/")
        starters = page.locator("button.starter")
        sync_api.expect(starters.nth(2)).to_be_visible()
        assert 3 <= starters.count() <= 6
        for i in range(3):
            sync_api.expect(starters.nth(i)).to_be_in_viewport()
        assert_in_viewport(page, "#faqbot-input")
        assert_in_viewport(page, ".footnote")
        assert_in_viewport(page, ".subtitle")
        sync_api.expect(page.locator(".subtitle")).to_contain_text("staff reply in office hours")
        sync_api.expect(page.locator(".footnote")).to_contain_text("not medical advice")
        # The conversation area takes most of the screen.
        assert shadow_rect(page, ".scroll")["height"] >= 0.5 * PHONE["height"]
        assert_axe_clean(page)

        question = starters.first.inner_text()
        starters.first.click()
        sync_api.expect(page.locator(".msg.user .text").last).to_have_text(question)
        wait_for_reply(page, 0)
        sync_api.expect(starters).to_have_count(0)
        wait_question_in_sight(page)
        assert_in_viewport(page, "#faqbot-input")
        assert_in_viewport(page, ".footnote")
        assert_axe_clean(page)

        page.goto(server.url + "/demo")
        page.locator("button.launcher").click()
        sync_api.expect(page.locator("button.starter").nth(2)).to_be_visible()
        for i in range(3):
            sync_api.expect(page.locator("button.starter").nth(i)).to_be_in_viewport()
        assert_in_viewport(page, "#faqbot-input")
        assert_in_viewport(page, ".subtitle")
        assert_axe_clean(page)
    finally:
        context.close()


def test_answers_scroll_to_the_question_on_desktop(server: LiveServer, browser: Any) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    try:
        page.goto(server.url + "/")
        assert shadow_rect(page, ".scroll")["height"] >= 0.55 * DESKTOP["height"]
        assert_in_viewport(page, ".footnote")
        for question in ("when can I drive after kyphoplasty",
                         "what happens during a uterine fibroid embolization",
                         "how do I care for my port at home"):
            ask(page, question)
            wait_question_in_sight(page)
            sync_api.expect(page.locator(".msg.user .text").last).to_have_text(question)
        # The short disclaimer stays under the message box after the exchange.
        assert_in_viewport(page, ".footnote")
    finally:
        context.close()


def test_procedure_page_offers_its_own_starters(server: LiveServer, page: Any) -> None:
    page.goto(server.url + "/?procedure=ivc-filter")
    starters = page.locator("button.starter")
    sync_api.expect(starters.nth(2)).to_be_visible()
    texts = starters.all_inner_texts()
    assert 3 <= len(texts) <= 6 and all("IVC" in t for t in texts[:3]), texts

    # A hospital's own page names the procedure and its language on the script tag.
    html = ('<!doctype html><html lang="es"><head><title>Filtro IVC</title></head><body>'
            '<main><h1>Filtro IVC</h1></main><script src="/widget.js" '
            'data-procedure="ivc-filter" data-language="es" defer></script></body></html>')
    page.route(server.url + "/hospital-page",
               lambda route: route.fulfill(body=html, content_type="text/html"))
    page.goto(server.url + "/hospital-page")
    page.locator("button.launcher").click()
    sync_api.expect(page.locator(".title")).to_have_text("Pregunte sobre su procedimiento")
    sync_api.expect(starters.nth(2)).to_be_visible()
    texts = starters.all_inner_texts()
    assert all(t.startswith("¿") and "IVC" in t for t in texts[:3]), texts


def test_clarify_handoff_and_emergency_say_each_thing_once(server: LiveServer,
                                                          page: Any) -> None:
    page.goto(server.url + "/")
    clarify = ask(page, "what are the risks")
    sync_api.expect(clarify).to_have_attribute("data-type", "clarify")
    assert clarify.locator("button.chip").count() >= 2
    # The question is asked by the text; the buttons follow without a second heading.
    sync_api.expect(clarify.locator(".chips-label")).to_have_count(0)
    assert "Did you mean:" not in clarify.inner_text()
    sync_api.expect(clarify.get_by_role("group")).to_have_attribute(
        "aria-label", "Questions to choose from")

    handoff = ask(page, "I want to talk to a person")
    sync_api.expect(handoff).to_have_attribute("data-type", "handoff")
    assert len(TICKET.findall(handoff.inner_text())) == 1, handoff.inner_text()

    emergency = ask(page, "my leg is cold and blue and numb right now")
    sync_api.expect(emergency).to_have_attribute("data-type", "emergency")
    sync_api.expect(emergency.locator(".who")).to_have_text("Emergency")
    sync_api.expect(emergency.locator(".ref")).to_have_count(0)
    assert emergency.locator('a[href^="tel:"]').count() == 1


# ----------------------------------------------- issue 17 item 4: Spanish chrome


def test_chrome_follows_the_conversation_language(server: LiveServer, browser: Any) -> None:
    context = browser.new_context(viewport=DESKTOP, locale="en-US", bypass_csp=True)
    page = context.new_page()
    try:
        page.goto(server.url + "/")
        sync_api.expect(page.locator("#faqbot-input")).to_have_attribute(
            "placeholder", "Type your question…")
        sync_api.expect(page.locator(".starters-heading")).to_have_text("Common questions")

        answer = ask(page, "¿cuándo puedo manejar después de la cifoplastia?")
        sync_api.expect(answer).to_have_attribute("data-type", "answer")
        sync_api.expect(answer.locator(".text")).to_have_attribute("lang", "es")
        sync_api.expect(page.locator("#faqbot-input")).to_have_attribute(
            "placeholder", "Escriba su pregunta…")
        sync_api.expect(page.locator("button.send")).to_have_attribute("aria-label", "Enviar")
        sync_api.expect(page.locator(".staff-btn")).to_have_text("Hablar con una persona")
        sync_api.expect(page.locator(".footnote")).to_contain_text("no consejos médicos")
        sync_api.expect(page.locator(".subtitle")).to_contain_text("horario de oficina")
        sync_api.expect(page.locator("label[for=faqbot-input]")).to_have_text("Su pregunta")
        sync_api.expect(answer.locator(".fb-label")).to_have_text("¿Le sirvió esta respuesta?")
        sync_api.expect(page.locator("html")).to_have_attribute("lang", "es")
        sync_api.expect(page.locator("h1")).to_have_text("Preguntas sobre su procedimiento")
        assert "procedimiento" in page.title()
        assert_axe_clean(page)

        # The staff button asks in Spanish, so the hand-over answers in Spanish.
        before = page.locator(".msg.bot").count()
        page.locator(".staff-btn").click()
        sync_api.expect(page.locator(".msg.user .text").last).to_have_text(
            "Quiero hablar con una persona")
        handoff = wait_for_reply(page, before)
        sync_api.expect(handoff).to_have_attribute("data-type", "handoff")
        sync_api.expect(handoff.locator(".text")).to_have_attribute("lang", "es")

        # A reload keeps the conversation's language.
        page.reload()
        sync_api.expect(page.locator("button.send")).to_have_attribute("aria-label", "Enviar")

        # Back to English when the patient is.
        ask(page, "when can I drive after kyphoplasty")
        sync_api.expect(page.locator("button.send")).to_have_attribute("aria-label", "Send")
        sync_api.expect(page.locator("html")).to_have_attribute("lang", "en")
    finally:
        context.close()


def test_spanish_browser_and_lang_override(server: LiveServer, browser: Any) -> None:
    context = browser.new_context(viewport=DESKTOP, locale="es-MX", bypass_csp=True)
    page = context.new_page()
    try:
        page.goto(server.url + "/demo")
        launcher = page.locator("button.launcher")
        sync_api.expect(launcher).to_contain_text("¿Preguntas?")
        launcher.click()
        sync_api.expect(page.locator(".title")).to_have_text("Pregunte sobre su procedimiento")
        sync_api.expect(page.locator(".close")).to_have_attribute("aria-label", "Cerrar el chat")
        starters = page.locator("button.starter")
        sync_api.expect(starters.nth(2)).to_be_visible()
        assert all(t.startswith("¿") for t in starters.all_inner_texts())
        assert_axe_clean(page)
        starters.first.click()
        reply = wait_for_reply(page, 0)
        sync_api.expect(reply.locator(".text")).to_have_attribute("lang", "es")
    finally:
        context.close()

    # ?lang=en wins over a Spanish browser; ?lang=es over an English one.
    for locale, query, placeholder in (("es-MX", "?lang=en", "Type your question…"),
                                       ("en-US", "?lang=es", "Escriba su pregunta…")):
        context = browser.new_context(viewport=DESKTOP, locale=locale)
        page = context.new_page()
        try:
            page.goto(server.url + "/" + query)
            sync_api.expect(page.locator("#faqbot-input")).to_have_attribute(
                "placeholder", placeholder)
        finally:
            context.close()


def test_screenshots(server: LiveServer, browser: Any, tmp_path: Path) -> None:
    # `make test` must leave the checkout clean: the README's screenshots are
    # refreshed only on request (FAQBOT_UPDATE_SCREENSHOTS=1).
    shots_dir = SHOTS if os.environ.get("FAQBOT_UPDATE_SCREENSHOTS") else tmp_path
    shots_dir.mkdir(parents=True, exist_ok=True)
    shots = [("widget-desktop.png", "/demo", DESKTOP),
             ("widget-phone.png", "/demo", PHONE),
             ("chat-page.png", "/", DESKTOP),
             ("chat-page-phone.png", "/", PHONE),
             ("chat-page-es.png", "/?lang=es", PHONE)]
    for name, path, viewport in shots:
        context = browser.new_context(viewport=viewport, reduced_motion="reduce")
        page = context.new_page()
        try:
            page.goto(server.url + path)
            if path == "/demo":
                page.locator("button.launcher").click()
            if name in ("chat-page-phone.png", "chat-page-es.png"):
                # The first view: starter questions above the message box.
                sync_api.expect(page.locator("button.starter").nth(2)).to_be_visible()
            else:
                ask(page, "when can I drive after kyphoplasty")
            if name == "chat-page.png":
                ask(page, "crushing chest pain right now")
            page.locator("#faqbot-input").blur()
            page.evaluate("() => window.scrollTo(0, 0)")
            page.screenshot(path=str(shots_dir / name))
            assert (shots_dir / name).stat().st_size > 10_000
        finally:
            context.close()
