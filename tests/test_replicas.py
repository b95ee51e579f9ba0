"""Three `faqbot serve` replicas behind nginx, sharing PostgreSQL, Redis and a corpus dir.

Real processes on free loopback ports: a fresh PostgreSQL database
(faqbot_test_<random>, dropped afterwards), a unique Redis key prefix (deleted
afterwards) and nginx run as the current user from a generated config. Shows
that a conversation survives hopping between replicas, that teaching on one
replica reaches the others, and that killing a replica under load loses no
acknowledged ticket. Skipped only when PostgreSQL, Redis or nginx is missing.
"""

from __future__ import annotations

import http.cookiejar
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from cluster import Cluster, nginx_binary, post_json  # noqa: E402

pytestmark = pytest.mark.replicas

USER, PASSWORD = "nurse.jo", "correct-horse-battery"
CLINICIAN = "dr.lee"
# The replicas answer from a copy of the staff tests' fixture corpus, so what
# the bundled corpus answers today cannot change what these tests see.
FIXTURE_CORPUS = Path(__file__).resolve().parent / "fixtures" / "corpus"
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')
# Questions the fixture corpus does not answer (the first that falls back is used).
UNANSWERED = (
    "can my cat sleep on the bed after my kyphoplasty",
    "can my parrot sit on my shoulder after the kyphoplasty",
    "is it ok for my cat to sleep on my bed once i am home from the spine cement procedure",
)
TEACH_ID = "vert-recovery-walking"
ANSWERED = ("what is kyphoplasty", "how long does embolization take",
            "can I eat before my biopsy", "when can I drive after a kyphoplasty")
# Out of scope: a fallback, which opens a ticket.
FALLBACKS = ("what is the weather in paris tomorrow", "who won the football last night",
             "recommend a good pizza place downtown")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, services):  # type: ignore[no-untyped-def]
    if nginx_binary() is None:
        pytest.skip("nginx is not installed; `make test` installs it (apt-get install nginx)")
    fresh_pg_database, redis_or_skip, REDIS_URL = services

    redis = redis_or_skip()
    prefix = f"faqbot-test-{uuid.uuid4().hex[:10]}:"
    with fresh_pg_database() as db_url:
        cluster = Cluster(tmp_path_factory.mktemp("replicas"), db_url, REDIS_URL,
                          env_extra={"FAQBOT_REDIS_PREFIX": prefix})
        try:
            shutil.copytree(FIXTURE_CORPUS, cluster.corpus,
                            ignore=shutil.ignore_patterns("*.md"))
            cluster.add_user(USER, PASSWORD)
            cluster.add_user(CLINICIAN, PASSWORD)
            subprocess.run([sys.executable, "-m", "bot.cli", "staff", "role", CLINICIAN,
                            "clinician", "--db", db_url], check=True, capture_output=True,
                           env=cluster.env(), timeout=60, cwd=Path(__file__).parent.parent)
            cluster.start()
            yield cluster
        finally:
            cluster.stop()
            keys = list(redis.scan_iter(match=prefix + "*", count=1000))
            if keys:
                redis.delete(*keys)
            redis.close()


def _say(url: str, text: str, session_id: str) -> tuple[str, dict]:
    status, headers, body = post_json(url + "/api/v1/messages",
                                      {"text": text, "session_id": session_id})
    assert status == 200, body
    return headers["X-Faqbot-Replica"], body


class Staff:
    """A signed-in staff browser: a cookie jar that works against any replica."""

    def __init__(self, base: str, username: str = USER) -> None:
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        page = self.get(base + "/staff/login")
        csrf = CSRF_RE.search(page).group(1)
        landing = self.post(base + "/staff/login",
                            {"csrf": csrf, "username": username, "password": PASSWORD})
        assert "Sign out" in landing or "Queue" in landing or "queue" in landing, landing[:500]

    def get(self, url: str) -> str:
        with self.opener.open(url, timeout=15) as response:
            return response.read().decode()

    def post(self, url: str, form: dict[str, str]) -> str:
        data = urllib.parse.urlencode(form).encode()
        with self.opener.open(url, data=data, timeout=30) as response:
            return response.read().decode()


# ------------------------------------------------------------------- tests


def test_a_conversation_keeps_its_context_across_replicas(cluster: Cluster) -> None:
    session = f"hop-{uuid.uuid4().hex[:8]}"
    first, reply = _say(cluster.url, "what is kyphoplasty", session)
    assert reply["type"] == "answer"
    second, reply = _say(cluster.url, "and when can I drive?", session)
    assert first != second, "nginx round robin sent both turns to one replica"
    assert reply["type"] == "answer" and reply["faq_id"] == "vert-recovery-driving"
    # And pinned explicitly: turn one on r0, turn two on r1.
    direct = f"direct-{uuid.uuid4().hex[:8]}"
    r0, r1 = cluster.replicas[0], cluster.replicas[1]
    assert _say(r0.url, "what is kyphoplasty", direct)[0] == "r0"
    name, reply = _say(r1.url, "and when can I drive?", direct)
    assert name == "r1" and reply["faq_id"] == "vert-recovery-driving"
    assert reply.get("disclaimer") is None  # r1 knew r0 had shown it


def test_teaching_on_one_replica_reaches_every_replica(cluster: Cluster) -> None:
    """A nurse drafts on r0, a clinician publishes on r1, every replica answers."""
    r0, r1 = cluster.replicas[0], cluster.replicas[1]
    for question in UNANSWERED:
        _, reply = _say(r0.url, question, f"teach-{uuid.uuid4().hex[:8]}")
        if reply["type"] == "fallback" and reply["ticket_id"]:
            break
    else:
        pytest.fail("the fixture corpus answers every sample question: add one it does not")
    staff = Staff(r0.url)
    csrf = CSRF_RE.search(staff.get(r0.url + "/staff")).group(1)
    staff.post(f"{r0.url}/staff/tickets/{reply['ticket_id']}/teach",
               {"csrf": csrf, "mode": "alternate", "entry_id": TEACH_ID, "phrasing": question})
    clinician = Staff(r1.url, CLINICIAN)
    drafts = clinician.get(r1.url + "/staff/drafts")
    draft_id = re.search(r'href="/staff/drafts/(D[0-9A-F]+)"', drafts).group(1)
    csrf = CSRF_RE.search(drafts).group(1)
    published = clinician.post(f"{r1.url}/staff/drafts/{draft_id}/publish", {"csrf": csrf})
    assert "Published" in published, published[:500]
    versions: set[str] = set()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        versions = {_health(r.url)["corpus_version"] for r in cluster.replicas}
        if len(versions) == 1 and versions != {reply["corpus_version"]}:
            break
        time.sleep(0.25)
    assert len(versions) == 1 and versions != {reply["corpus_version"]}, versions
    for replica in cluster.replicas:
        name, answer = _say(replica.url, question, f"after-{uuid.uuid4().hex[:8]}")
        assert name == replica.name
        assert answer["type"] == "answer" and answer["faq_id"] == TEACH_ID


def _health(url: str) -> dict:
    import json

    with urllib.request.urlopen(url + "/healthz", timeout=5) as response:
        return json.loads(response.read())


def test_killing_a_replica_under_load_loses_no_ticket(cluster: Cluster) -> None:
    """200 requests from 4 threads; r2 is SIGKILLed after the first 40.

    Asserted: nginx sends new requests past the dead replica, so every request
    but those in flight on r2 at the instant of the kill (at most one per
    client thread, answered 502 because nginx does not resend a POST it already
    sent) gets a 200; every ticket id acknowledged in a 200 is in PostgreSQL
    and listed by the staff API of another replica than the one staff signed in on.
    """
    import psycopg

    threads, per_thread = 4, 50
    victim = cluster.replicas[2]
    results: list[tuple[int, int, str, dict]] = []  # (order, status, replica, body)
    lock = threading.Lock()
    done = [0]
    killed = threading.Event()

    def worker(number: int) -> None:
        session = f"load-{number}-{uuid.uuid4().hex[:6]}"
        for i in range(per_thread):
            texts = FALLBACKS if i % 3 == 0 else ANSWERED
            text = texts[(i + number) % len(texts)]
            try:
                status, headers, body = post_json(cluster.url + "/api/v1/messages",
                                                  {"text": text, "session_id": session})
            except OSError as exc:
                status, headers, body = 0, {}, {"error": repr(exc)}
            with lock:
                done[0] += 1
                results.append((done[0], status, headers.get("X-Faqbot-Replica", ""), body))
                if done[0] == 40 and not killed.is_set():
                    killed.set()
                    cluster.kill(victim)

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    started = time.monotonic()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(120)
    assert not any(t.is_alive() for t in pool), "load did not finish within 120 s"
    assert killed.is_set() and victim.proc.poll() is not None
    elapsed = time.monotonic() - started

    statuses = Counter(status for _, status, _, _ in results)
    failed = [(order, status, body) for order, status, _, body in results if status != 200]
    assert len(results) == threads * per_thread
    assert len(failed) <= threads and all(status == 502 for _, status, _ in failed), \
        (failed, cluster.logs())
    assert all(order > 40 for order, _, _ in failed)  # only around the kill
    # Once nginx has marked r2 down, the survivors answer everything.
    late = [(status, name) for order, status, name, _ in results if order > 40 + 2 * threads]
    assert all(status == 200 and name in ("r0", "r1") for status, name in late), late
    early = {name for order, status, name, _ in results if order <= 40}
    assert early == {"r0", "r1", "r2"}  # all three took load before the kill

    acknowledged = {body["ticket_id"] for _, status, _, body in results
                    if status == 200 and body.get("ticket_id")}
    assert len(acknowledged) >= 50, statuses
    with psycopg.connect(cluster.db_url.replace("postgresql+psycopg://", "postgresql://")) as db:
        stored = {row[0] for row in db.execute("SELECT id FROM tickets")}
    assert acknowledged <= stored, acknowledged - stored

    # Staff sign in on r0 and list every ticket through r1.
    staff = Staff(cluster.replicas[0].url)
    import json

    listed = json.loads(staff.get(cluster.replicas[1].url + "/staff/api/tickets"))
    assert listed["count"] < 200, "raise the API limit or lower the load for this check"
    assert acknowledged <= {t["id"] for t in listed["tickets"]}
    print(f"\n{len(results)} requests in {elapsed:.1f} s, statuses {dict(statuses)}, "
          f"{len(acknowledged)} tickets acknowledged and stored")
