"""The store on SQLite and on PostgreSQL: every method, the same answers.

The PostgreSQL half needs the server on 127.0.0.1:5432 (FAQBOT_TEST_PG to
point elsewhere); each test gets a fresh database, dropped afterwards.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.domain import Match, Turn
from bot.store import (
    MIGRATIONS,
    Store,
    feedback,
    reply_log,
    schema_version,
    staff_messages,
    tickets,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path: Path):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        store = Store("sqlite:///" + str(tmp_path / "store.db"))
        yield store
        store.close()
        return
    store = Store(request.getfixturevalue("pg_url"))  # a fresh database, dropped afterwards
    yield store
    store.close()


def _open(store: Store, **extra) -> str:  # type: ignore[no-untyped-def]
    values = {"kind": "fallback", "session_id": "s1", "message": "Can my cat sleep here?"}
    return store.open_ticket(**(values | extra))


def _age(store: Store, table: sa.Table, column: str, days: int) -> None:
    """Move every row of `table` `days` into the past."""
    key, col = table.c.id, table.c[column]
    with store.engine.begin() as conn:  # in Python: SQLite has no datetime arithmetic
        for row_id, when in conn.execute(sa.select(key, col)).all():
            conn.execute(table.update().where(key == row_id)
                         .values({column: when - dt.timedelta(days=days)}))


# ---------------------------------------------------------------- migrations


def test_migrations_are_versioned_and_idempotent(store: Store) -> None:
    numbers = [number for number, _ in MIGRATIONS]
    assert numbers == list(range(1, len(numbers) + 1))
    assert store.migrate() == numbers[-1]
    again = Store(store.url)  # a second replica starting on the same database
    assert again.migrate() == numbers[-1]
    again.close()
    with store.engine.connect() as conn:
        recorded = conn.execute(sa.select(schema_version.c.version)
                                .order_by(schema_version.c.version)).scalars().all()
        names = set(sa.inspect(conn).get_table_names())
    assert recorded == numbers
    assert {"tickets", "staff_messages", "feedback", "staff_users", "audit_log", "reply_log",
            "corpus_state"} <= names


def test_corpus_version_row(store: Store) -> None:
    assert store.corpus_version() is None
    store.set_corpus_version("aaaa11112222")
    store.set_corpus_version("bbbb33334444")
    assert store.corpus_version() == "bbbb33334444"


# ------------------------------------------------------------------- tickets


def test_ticket_round_trip(store: Store) -> None:
    turns = [Turn("what is kyphoplasty", "Kyphoplasty is...", "answer", "vert-overview")]
    ticket_id = _open(store, kind="handoff", turns=turns, urgent=True, procedure="embolization",
                      candidates=[Match("vert-overview", 0.41)], summary="handoff; earlier")
    ticket = store.get_ticket(ticket_id)
    assert ticket is not None
    assert ticket["id"] == ticket_id and ticket["kind"] == "handoff"
    assert ticket["status"] == "open" and ticket["urgent"] is True
    assert ticket["turns"] == [{"user": "what is kyphoplasty", "bot": "Kyphoplasty is...",
                                "type": "answer", "faq_id": "vert-overview"}]
    assert ticket["candidates"] == [{"faq_id": "vert-overview", "score": 0.41}]
    assert ticket["procedure"] == "embolization"
    dt.datetime.fromisoformat(ticket["created_at"])
    assert store.get_ticket("TNOPE") is None
    with pytest.raises(ValueError):
        _open(store, kind="gossip")


def test_list_orders_urgent_first_and_filters(store: Store) -> None:
    plain = _open(store, message="Where do I park?")
    urgent = _open(store, kind="emergency", urgent=True, message="Chest pain")
    handoff = _open(store, kind="handoff", message="Call me", summary="wants a NURSE")
    ids = [t["id"] for t in store.list_tickets()]
    assert ids[0] == urgent and set(ids) == {plain, urgent, handoff}
    assert store.list_tickets()[0]["urgent"] is True
    assert [t["id"] for t in store.list_tickets(kind="handoff")] == [handoff]
    assert [t["id"] for t in store.list_tickets(search="PARK")] == [plain]
    assert [t["id"] for t in store.list_tickets(search="nurse")] == [handoff]  # summary too
    assert store.list_tickets(search="no such words") == []
    assert len(store.list_tickets(limit=2)) == 2
    with pytest.raises(ValueError):
        store.list_tickets(status="lost")


def test_statuses_and_staff_replies_per_session(store: Store) -> None:
    first = _open(store, session_id="s1")
    second = _open(store, session_id="s2")
    assert store.set_status(first, "resolved", "nurse.jo")
    assert not store.set_status("TNOPE", "resolved", "nurse.jo")
    with pytest.raises(ValueError):
        store.set_status(first, "lost", "nurse.jo")
    assert [t["id"] for t in store.list_tickets(status="resolved")] == [first]
    assert store.get_ticket(first)["handled_by"] == "nurse.jo"

    assert store.reply_to_ticket(second, "Yes, after a week.", "nurse.jo")
    assert store.reply_to_ticket(second, "And no lifting.", "dr.lee")
    assert not store.reply_to_ticket("TNOPE", "hello", "nurse.jo")
    ticket = store.get_ticket(second)
    assert ticket["status"] == "answered" and ticket["staff_reply"] == "And no lifting."
    messages = store.staff_messages_for("s2")
    assert [m["text"] for m in messages] == ["Yes, after a week.", "And no lifting."]
    assert messages[0]["id"] < messages[1]["id"]  # autoincrement ids, in order
    assert [m["text"] for m in store.staff_messages_for("s2", after=messages[0]["id"])] == \
        ["And no lifting."]
    assert store.staff_messages_for("s1") == []

    store.set_notify_error(second, "webhook returned 500")
    assert store.get_ticket(second)["notify_error"] == "webhook returned 500"
    store.set_notify_error(second, None)
    assert store.get_ticket(second)["notify_error"] is None


# ------------------------------------------------------------------ feedback


def test_feedback_and_thumbs_down_ticket(store: Store) -> None:
    assert store.add_feedback("s1", "vert-overview", True) is None
    ticket_id = store.add_feedback("s1", "vert-overview", False, "Did not say how long")
    assert ticket_id
    ticket = store.get_ticket(ticket_id)
    assert ticket["kind"] == "feedback" and ticket["message"] == "Did not say how long"
    assert ticket["summary"] == "thumbs down on vert-overview"
    plain = store.add_feedback("s2", "vert-risks", False)
    assert "vert-risks" in store.get_ticket(plain)["message"]
    assert store.feedback_counts() == {"up": 1, "down": 2}
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(feedback.c.helpful).order_by(feedback.c.id)).scalars().all()
    assert rows == [True, False, False]  # real booleans on both databases


# ---------------------------------------------------------- users and audit


def test_staff_users(store: Store) -> None:
    assert store.password_hash("nurse.jo") is None
    store.add_user("nurse.jo", "hash-1")
    store.add_user("nurse.jo", "hash-2")  # a reset, not a second row
    store.add_user("dr.lee", "hash-3")
    assert store.password_hash("nurse.jo") == "hash-2"
    assert store.password_hash("dr.lee") == "hash-3"


def test_audit_log_newest_first(store: Store) -> None:
    store.audit("nurse.jo", "login")
    store.audit("nurse.jo", "view", "T1")
    store.audit("dr.lee", "reply", "T1", "Yes")
    entries = store.audit_entries()
    assert [e["action"] for e in entries] == ["reply", "view", "login"]
    assert entries[0]["ticket_id"] == "T1" and entries[0]["detail"] == "Yes"
    assert entries[0]["id"] > entries[1]["id"] > entries[2]["id"]
    dt.datetime.fromisoformat(entries[0]["at"])
    assert len(store.audit_entries(limit=2)) == 2


# ------------------------------------------------------- retention and rates


def test_purge_deletes_only_old_rows(store: Store) -> None:
    old = _open(store, session_id="old")
    store.reply_to_ticket(old, "old reply", "nurse.jo")
    store.add_feedback("old", "vert-overview", True)
    store.record_reply("answer", "vert-overview", "v1")
    for table, column in ((tickets, "created_at"), (staff_messages, "created_at"),
                          (feedback, "created_at"), (reply_log, "at")):
        _age(store, table, column, 100)
    new = _open(store, session_id="new")
    assert store.purge(90) == 1
    assert store.get_ticket(old) is None and store.get_ticket(new) is not None
    assert store.staff_messages_for("old") == []
    assert store.feedback_counts() == {}
    assert store.daily_rates() == []
    assert store.purge(90) == 0


def test_daily_rates_group_by_day(store: Store) -> None:
    for reply_type in ("answer", "answer", "fallback", "clarify"):
        store.record_reply(reply_type, None, "v1")
    _age(store, reply_log, "at", 1)  # yesterday
    store.record_reply("answer", "vert-overview", "v1")
    store.record_reply("fallback", None, "v1")
    rates = store.daily_rates()
    assert len(rates) == 2
    yesterday, today = rates
    for row in rates:
        dt.date.fromisoformat(row["day"])  # YYYY-MM-DD on both databases
    assert yesterday["day"] < today["day"]
    assert yesterday == {"day": yesterday["day"], "messages": 4, "answer_rate": 0.5,
                         "fallback_rate": 0.25}
    assert today["messages"] == 2 and today["answer_rate"] == 0.5
    _age(store, reply_log, "at", 30)
    assert store.daily_rates(days=14) == []


def test_an_unreachable_server_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """The PostgreSQL and Redis suites skip on a laptop without the servers, and
    fail under CI=true, where a missing server means a broken run."""
    from tests.conftest import unavailable

    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        unavailable("PostgreSQL not reachable")
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception):
        unavailable("PostgreSQL not reachable")
