"""No identifier from the redaction test sets reaches the database file, its
WAL, the logs or the corpus.

Every message of the sets that hold identifiers goes through the real app
(the chat API, the Rasa and Dialogflow channels, feedback comments, hand-offs,
an emergency), staff sign in, open tickets, reply and teach from a ticket
through the console's forms; then the raw bytes of every file in the data
directory (the SQLite file and its -wal/-shm files included), of the corpus
directory and of every log record (DEBUG and up, the access log included)
are searched for each identifier, as written, JSON-escaped, and folded to
lower case without accents as the engine's normaliser writes words.
"""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
import unicodedata
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest

from bot.assembly import build_bot
from bot.config import load_settings
from bot.logs import JsonFormatter
from bot.normalise import normalise
from bot.store import Store
from bot.web.app import create_app
from bot.web.auth import hash_password
from tests.conftest import load_data

ROOT = Path(__file__).resolve().parent.parent
USER, PASSWORD = "privacy.nurse", "lantern-orbit-cactus-91"
CORPUS_FILES = ("general.yaml", "vertebroplasty-kyphoplasty.yaml", "synonyms.yaml")
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')
ENTRY_RE = re.compile(r'name="entry_id"[^>]*value="([^"]+)"')

SETS = [load_data("redaction.yaml"), load_data("redaction_blind.yaml")]
ITEMS = [item for s in SETS for item in s["with_identifiers"]]
IDENTIFIERS = sorted({i for item in ITEMS for i in item["identifiers"]})


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def variants(identifier: str) -> set[str]:
    """The identifier as it could be written down by any layer."""
    found = {identifier, fold(identifier), json.dumps(identifier)[1:-1],
             json.dumps(identifier, ensure_ascii=False)[1:-1]}
    if normalise(identifier):
        found.add(normalise(identifier))
    return {v for v in found if v.strip()}


WORD = re.compile(r"[0-9a-z\u00c0-\u024f]")
VARIANTS = {identifier: {v.lower() for v in variants(identifier)} for identifier in IDENTIFIERS}


def holds(lowered: str, identifier: str) -> bool:
    """Whether lower-cased text holds the identifier as a whole word (or number)."""
    for variant in VARIANTS[identifier]:
        at = lowered.find(variant)
        while at != -1:
            before = lowered[at - 1] if at else " "
            after = lowered[at + len(variant):at + len(variant) + 1] or " "
            if not WORD.match(before) and not WORD.match(after):
                return True
            at = lowered.find(variant, at + 1)
    return False


def found_in(texts: dict[str, str], skip: frozenset[str] = frozenset()) -> dict[str, list[str]]:
    """identifier -> the places (file or 'logs') that hold it."""
    lowered = {name: text.lower() for name, text in texts.items()}
    hits: dict[str, list[str]] = {}
    for identifier in IDENTIFIERS:
        if identifier not in skip:
            places = [name for name, text in lowered.items() if holds(text, identifier)]
            if places:
                hits[identifier] = places
    return hits


def files_under(*roots: Path) -> dict[str, str]:
    """Every file's raw bytes, read as UTF-8 with undecodable bytes replaced;
    the members of a zip (the index's .npz matrices) unpacked."""
    out = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if not path.is_file():
                continue
            name = str(path.relative_to(root.parent))
            if zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as archive:
                    for member in archive.namelist():
                        out[f"{name}:{member}"] = archive.read(member).decode("utf-8",
                                                                              "replace")
            else:
                out[name] = path.read_bytes().decode("utf-8", "replace")
    return out


@pytest.fixture
def place(tmp_path: Path) -> tuple[Path, Path]:
    data, corpus = tmp_path / "data", tmp_path / "corpus"
    data.mkdir()
    corpus.mkdir()
    for name in CORPUS_FILES:
        shutil.copy(ROOT / "corpus" / name, corpus / name)
    return data, corpus


@pytest.fixture
def logs():  # type: ignore[no-untyped-def]
    """Every log record at DEBUG and up, formatted as the server's JSON lines
    (which carry `extra=` fields too), the access logs included."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("test"))
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(old_level)


async def test_no_identifier_reaches_the_database_the_logs_or_the_corpus(  # type: ignore[no-untyped-def]
        aiohttp_client, place, logs) -> None:
    data, corpus = place
    settings = load_settings(environ={}).replace(
        db=f"sqlite:///{data / 'faqbot.db'}", data_dir=str(data), corpus=str(corpus),
        rate_limit=0, secure_cookies=False)
    store = Store(settings.db_url)
    store.add_user(USER, hash_password(PASSWORD))
    client = await aiohttp_client(create_app(settings, build_bot(settings, tickets=store),
                                             store))
    # What is there before any patient wrote: the corpus may use a common
    # word that is also a name in the sets ("Frank" bleeding). Such words
    # cannot be checked; there must be few of them.
    before = found_in(files_under(data, corpus))
    assert len(before) <= 5, before

    # Patients, over three channels, a few messages a conversation.
    sessions: dict[str, str] = {}  # session id -> token
    originals: dict[str, str] = {}  # ticket id -> the message that opened it
    session_id, token = None, None
    for n, item in enumerate(ITEMS):
        text = item["text"]
        if n % 3 == 0:
            response = await client.post("/webhooks/rest/webhook", json={
                "sender": f"patient-{n // 6}", "message": text})
            assert response.status == 200, await response.text()
        elif n % 3 == 1:
            if n % 6 == 1:
                session_id, token = None, None
            body = {"text": text} | ({"session_id": session_id} if session_id else {})
            response = await client.post("/api/v1/messages", json=body,
                                         headers={"X-Session-Token": token} if token else {})
            assert response.status == 200, await response.text()
            reply = await response.json()
            session_id, token = reply["session_id"], reply["session_token"] or token
            sessions[session_id] = token or ""
            if reply["ticket_id"]:
                originals[reply["ticket_id"]] = text
        else:
            response = await client.post("/channels/dialogflow", json={
                "session": f"projects/p/agent/sessions/df-{n // 6}",
                "queryResult": {"queryText": text, "languageCode": "en"}})
            assert response.status == 200, await response.text()

    # Feedback comments, hand-offs and an emergency, each with identifiers.
    for item in ITEMS[:12]:
        response = await client.post("/api/v1/feedback", json={
            "session_id": session_id, "helpful": False, "comment": item["text"]})
        assert response.status == 200, await response.text()
    for item in ITEMS[12:18]:
        reply = await (await client.post("/api/v1/messages", json={
            "text": "I want to talk to a real person. " + item["text"]})).json()
        assert reply["type"] in ("handoff", "emergency", "urgent"), reply
        sessions[reply["session_id"]] = reply["session_token"]
    emergency = ITEMS[18]["text"] + " and now I have crushing chest pain and can't breathe"
    reply = await (await client.post("/api/v1/messages", json={"text": emergency})).json()
    assert reply["type"] == "emergency", reply

    # Staff: sign in, open tickets, reply, teach from a ticket.
    page = await client.get("/staff/login")
    await client.post("/staff/login", data={"csrf": CSRF_RE.search(await page.text()).group(1),
                                            "username": USER, "password": PASSWORD})
    queue = await client.get("/staff")
    assert queue.status == 200
    csrf = CSRF_RE.search(await queue.text()).group(1)
    taught = False
    assert originals, "no chat message opened a ticket"
    for ticket_id, original in list(originals.items())[:8]:
        url = f"/staff/tickets/{quote(ticket_id, safe='')}"
        ticket_page = await client.get(url)
        assert ticket_page.status == 200
        html = await ticket_page.text()
        assert not any(holds(html.lower(), i) for item in ITEMS if item["text"] == original
                       for i in item["identifiers"]), "the console shows an identifier"
        reply_form = await client.post(f"{url}/reply", allow_redirects=False, data={
            "csrf": csrf, "text": "A nurse will call you today about your question."})
        assert reply_form.status == 303, await reply_form.text()
        entries = ENTRY_RE.findall(html)
        if taught or not entries:
            continue
        # Staff paste the patient's own words back: refused, nothing written.
        for form in ({"mode": "alternate", "entry_id": entries[0], "phrasing": original},
                     {"mode": "new", "question": original, "answer": "Ask your care team.",
                      "procedure": "general", "topic": "logistics"},
                     {"mode": "new", "question": "can my cat sleep on my bed",
                      "answer": "Ask your care team. " + original,
                      "procedure": "general", "topic": "logistics"}):
            refused = await client.post(f"{url}/teach", allow_redirects=False,
                                        data={"csrf": csrf, **form})
            assert refused.status == 400, (form, await refused.text())
        # The tidied wording is taught.
        done = await client.post(f"{url}/teach", allow_redirects=False, data={
            "csrf": csrf, "mode": "alternate", "entry_id": entries[0],
            "phrasing": "can my pet sleep on the bed after the procedure"})
        assert done.status == 303, await done.text()
        taught = True
    assert taught, "no ticket offered an entry to teach"

    # The patients read the staff replies.
    for sid, tok in sessions.items():
        if tok:
            response = await client.get(f"/api/v1/sessions/{quote(sid, safe='')}/messages",
                                        headers={"X-Session-Token": tok})
            assert response.status == 200

    # Read while the app runs too: a -wal, -shm or -journal file lives only
    # as long as the connection (the store does not choose WAL mode today).
    running = files_under(data, corpus)
    assert "data/faqbot.db" in running, sorted(running)
    await client.close()  # flushes the reply log, stops the engine
    store.close()
    stored = files_under(data, corpus)
    stored.update({f"{name} (while running)": text for name, text in running.items()})
    stored["logs"] = logs.getvalue()
    assert len(stored["logs"]) > 10_000, "the logs were not captured"

    leaks = found_in(stored, skip=frozenset(before))
    assert not leaks, "\n".join(f"{i!r} in {places}" for i, places in sorted(leaks.items()))
