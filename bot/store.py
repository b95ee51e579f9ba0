"""The persistent store: tickets, staff replies, feedback, staff users, audit log.

SQLAlchemy Core over SQLite by default (a file under the data directory, no
set-up) and PostgreSQL with the same schema when several servers share one
database. Every write commits before the method returns, so a reply that
carries a ticket id is never ahead of the database. Text arriving here is
already redacted by the engine; the store never sees raw patient text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .config import STAFF_ROLES
from .domain import Match, Turn

STATUSES = ("open", "answered", "resolved", "dismissed")
ROLES = STAFF_ROLES
KINDS = ("fallback", "handoff", "emergency", "urgent", "feedback")

metadata = sa.MetaData()

schema_version = sa.Table(
    "schema_version", metadata, sa.Column("version", sa.Integer, nullable=False)
)
tickets = sa.Table(
    "tickets", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, default="open"),
    sa.Column("urgent", sa.Boolean, nullable=False, default=False),
    sa.Column("session_id", sa.String(128), nullable=False, index=True),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("summary", sa.Text, nullable=False, default=""),
    sa.Column("procedure", sa.String(64)),
    sa.Column("turns", sa.Text, nullable=False, default="[]"),
    sa.Column("candidates", sa.Text, nullable=False, default="[]"),
    sa.Column("created_at", sa.DateTime, nullable=False, index=True),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("handled_by", sa.String(64)),
    sa.Column("staff_reply", sa.Text),
    sa.Column("notify_error", sa.Text),
    # Added by migration 3 (a fresh database gets it from migration 1).
    sa.Column("repeats", sa.Integer, nullable=False, default=0, server_default="0"),
)
staff_messages = sa.Table(
    "staff_messages", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("session_id", sa.String(128), nullable=False, index=True),
    sa.Column("ticket_id", sa.String(32), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)
feedback = sa.Table(
    "feedback", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("session_id", sa.String(128), nullable=False),
    sa.Column("faq_id", sa.String(128)),
    sa.Column("helpful", sa.Boolean, nullable=False),
    sa.Column("comment", sa.Text),
    sa.Column("ticket_id", sa.String(32)),
    sa.Column("created_at", sa.DateTime, nullable=False),
)
staff_users = sa.Table(
    "staff_users", metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    # Added by migration 5 (a fresh database gets them from migration 1).
    sa.Column("role", sa.String(16), nullable=False, default="staff", server_default="staff"),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False,
              server_default=sa.false()),
)
audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("ticket_id", sa.String(32)),
    sa.Column("detail", sa.Text),
)
reply_log = sa.Table(
    "reply_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime, nullable=False, index=True),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("faq_id", sa.String(128)),
    sa.Column("corpus_version", sa.String(32)),
)


# Added by migration 2: the corpus version last taught, so every replica can
# notice a change made on another one. Kept out of `metadata` so that
# migration 1 creates exactly the tables it always created.
corpus_state = sa.Table(
    "corpus_state", sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("version", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)


# Added by migration 4: staff sign-in sessions, so logout, a password reset
# and removing a user end them. The cookie holds a random token; only its
# hash is kept.
staff_sessions = sa.Table(
    "staff_sessions", sa.MetaData(),
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, index=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("last_seen", sa.DateTime, nullable=False),
)


# Added by migration 6: what staff teach waits here as a draft until a
# clinician who did not write it approves it (then it is written to the corpus
# files the engine loads) or rejects it with a reason. Patients never see a draft.
drafts = sa.Table(
    "drafts", sa.MetaData(),
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # "phrasing" or "entry"
    sa.Column("status", sa.String(16), nullable=False),  # pending, published, rejected
    sa.Column("ticket_id", sa.String(32)),
    sa.Column("entry_id", sa.String(128), nullable=False),
    sa.Column("procedure", sa.String(64)),
    sa.Column("payload", sa.Text, nullable=False),  # JSON: the phrasing or the entry's fields
    sa.Column("author", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False, index=True),
    sa.Column("decided_by", sa.String(64)),
    sa.Column("decided_at", sa.DateTime),
    sa.Column("reason", sa.Text),
)

# Added by migration 6: a patient's call-back request (name, phone, best time),
# apart from chat text and sealed (Fernet) before it reaches the store; only
# the ticket page decrypts it. Deleted when the ticket closes or is purged.
callbacks = sa.Table(
    "callbacks", sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ticket_id", sa.String(32), nullable=False, index=True),
    sa.Column("sealed", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False, index=True),
)

DRAFT_STATUSES = ("pending", "published", "rejected")
CLOSED = ("resolved", "dismissed")


def _v1(conn: Connection) -> None:
    metadata.create_all(conn)


def _v2(conn: Connection) -> None:
    corpus_state.create(conn, checkfirst=True)


def _v3(conn: Connection) -> None:
    # One red-flag episode, one ticket: later messages of the episode count here.
    if "repeats" in {c["name"] for c in sa.inspect(conn).get_columns("tickets")}:
        return
    conn.execute(sa.text("ALTER TABLE tickets ADD COLUMN repeats INTEGER NOT NULL DEFAULT 0"))


# Versioned migrations: append, never edit. Each runs once, in order.
def _v4(conn: Connection) -> None:
    staff_sessions.create(conn, checkfirst=True)


def _v5(conn: Connection) -> None:
    # A role per staff user, and disabling an account without deleting it.
    existing = {c["name"] for c in sa.inspect(conn).get_columns("staff_users")}
    if "role" not in existing:
        conn.execute(sa.text(
            "ALTER TABLE staff_users ADD COLUMN role VARCHAR(16) NOT NULL DEFAULT 'staff'"))
    if "disabled" not in existing:
        conn.execute(sa.text(
            "ALTER TABLE staff_users ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT FALSE"))


def _v6(conn: Connection) -> None:
    drafts.create(conn, checkfirst=True)
    callbacks.create(conn, checkfirst=True)


MIGRATIONS: tuple[tuple[int, Callable[[Connection], None]], ...] = (
    (1, _v1), (2, _v2), (3, _v3), (4, _v4), (5, _v5), (6, _v6))

# Any constant: replicas starting together take turns to migrate (PostgreSQL).
_MIGRATION_LOCK = 0x6661716274


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def mask_url(url: str) -> str:
    """A database URL fit to print or log: any password replaced by ***."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparseable database URL>"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        return sa.create_engine(url, connect_args={"check_same_thread": False})
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return sa.create_engine(url, pool_pre_ping=True)


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.migrate()

    def close(self) -> None:
        self.engine.dispose()

    def migrate(self) -> int:
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                # DDL is transactional here: the second replica waits, then sees the
                # versions the first one recorded.
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                             {"key": _MIGRATION_LOCK})
            schema_version.create(conn, checkfirst=True)
            current = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar()
            current = current or 0
            for version, step in MIGRATIONS:
                if version > current:
                    step(conn)
                    conn.execute(schema_version.insert().values(version=version))
                    current = version
        return current

    # ----------------------------------------------------------------- tickets

    def open_ticket(
        self,
        *,
        kind: str,
        session_id: str,
        message: str,
        turns: Sequence[Turn] = (),
        candidates: Sequence[Match] = (),
        procedure: str | None = None,
        urgent: bool = False,
        summary: str = "",
        ticket_id: str | None = None,
    ) -> str:
        if kind not in KINDS:
            raise ValueError(f"unknown ticket kind {kind!r}")
        ticket_id = ticket_id or "T" + uuid.uuid4().hex[:11].upper()
        now = _now()
        with self.engine.begin() as conn:
            conn.execute(tickets.insert().values(
                id=ticket_id, kind=kind, status="open", urgent=urgent, session_id=session_id,
                message=message, summary=summary, procedure=procedure,
                turns=json.dumps([asdict(t) for t in turns]),
                candidates=json.dumps([asdict(c) for c in candidates]),
                created_at=now, updated_at=now,
            ))
        return ticket_id

    def note_repeat(self, ticket_id: str, message: str) -> None:
        """Another message of the same red-flag episode: count it, keep the latest words."""
        with self.engine.begin() as conn:
            conn.execute(tickets.update().where(tickets.c.id == ticket_id).values(
                repeats=tickets.c.repeats + 1, updated_at=_now(),
                summary=sa.func.coalesce(tickets.c.summary, "") + "; again: " + message[:200]))

    def list_tickets(
        self,
        *,
        status: str | None = None,
        kind: str | None = None,
        search: str | None = None,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        if status and status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; use one of {', '.join(STATUSES)}")
        query = sa.select(tickets).order_by(tickets.c.urgent.desc(), tickets.c.created_at.desc(),
                                            tickets.c.id).limit(limit)
        if status:
            query = query.where(tickets.c.status == status)
        if kind:
            query = query.where(tickets.c.kind == kind)
        if search:
            like = f"%{search.lower()}%"
            query = query.where(sa.or_(sa.func.lower(tickets.c.message).like(like),
                                       sa.func.lower(tickets.c.summary).like(like)))
        with self.engine.connect() as conn:
            return [_ticket_dict(row._mapping) for row in conn.execute(query)]

    def get_ticket(self, ticket_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(tickets).where(tickets.c.id == ticket_id)).first()
        return _ticket_dict(row._mapping) if row else None

    def set_status(self, ticket_id: str, status: str, by: str) -> bool:
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        with self.engine.begin() as conn:
            done = conn.execute(tickets.update().where(tickets.c.id == ticket_id).values(
                status=status, handled_by=by, updated_at=_now()))
            if status in CLOSED:
                # A closed ticket needs no call-back: the number goes with it.
                conn.execute(callbacks.delete().where(callbacks.c.ticket_id == ticket_id))
            return bool(done.rowcount)

    def reply_to_ticket(self, ticket_id: str, text: str, by: str) -> bool:
        ticket = self.get_ticket(ticket_id)
        if ticket is None:
            return False
        now = _now()
        with self.engine.begin() as conn:
            conn.execute(tickets.update().where(tickets.c.id == ticket_id).values(
                status="answered", staff_reply=text, handled_by=by, updated_at=now))
            conn.execute(staff_messages.insert().values(
                session_id=ticket["session_id"], ticket_id=ticket_id, text=text, created_at=now))
        return True

    def set_notify_error(self, ticket_id: str, error: str | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(tickets.update().where(tickets.c.id == ticket_id)
                         .values(notify_error=error))

    def session_seen(self, session_id: str) -> bool:
        """Whether any ticket was ever opened for this session."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(tickets.c.id).where(
                tickets.c.session_id == session_id).limit(1)).first()
        return row is not None

    def staff_messages_for(self, session_id: str, after: int = 0) -> list[dict[str, Any]]:
        query = (sa.select(staff_messages)
                 .where(staff_messages.c.session_id == session_id, staff_messages.c.id > after)
                 .order_by(staff_messages.c.id))
        with self.engine.connect() as conn:
            return [
                {"id": r.id, "ticket_id": r.ticket_id, "text": r.text,
                 "created_at": r.created_at.isoformat()}
                for r in conn.execute(query)
            ]

    # ---------------------------------------------------------------- feedback

    def add_feedback(
        self, session_id: str, faq_id: str | None, helpful: bool, comment: str | None = None
    ) -> str | None:
        """Store a thumbs up or down; a thumbs down also opens a ticket."""
        ticket_id = None
        if not helpful:
            ticket_id = self.open_ticket(
                kind="feedback", session_id=session_id,
                message=comment or f"Patient found answer {faq_id} unhelpful.",
                summary=f"thumbs down on {faq_id}",
            )
        with self.engine.begin() as conn:
            conn.execute(feedback.insert().values(
                session_id=session_id, faq_id=faq_id, helpful=helpful, comment=comment,
                ticket_id=ticket_id, created_at=_now()))
        return ticket_id

    def feedback_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(feedback.c.helpful, sa.func.count())
                                .group_by(feedback.c.helpful)).all()
        return {("up" if helpful else "down"): count for helpful, count in rows}

    # ----------------------------------------------------------- reply records

    def record_reply(self, reply_type: str, faq_id: str | None, corpus_version: str | None) -> None:
        self.record_replies([(_now(), reply_type, faq_id, corpus_version)])

    def record_replies(
        self, rows: Sequence[tuple[dt.datetime, str, str | None, str | None]]
    ) -> None:
        """Store (time, type, faq_id, corpus_version) rows in one transaction."""
        if not rows:
            return
        with self.engine.begin() as conn:
            conn.execute(reply_log.insert(), [
                {"at": at, "type": kind, "faq_id": faq_id, "corpus_version": version}
                for at, kind, faq_id, version in rows
            ])

    def daily_rates(self, days: int = 14) -> list[dict[str, Any]]:
        since = _now() - dt.timedelta(days=days)
        day = sa.func.date(reply_log.c.at) if self.engine.dialect.name == "sqlite" else \
            sa.func.to_char(reply_log.c.at, "YYYY-MM-DD")
        query = (sa.select(day.label("day"), reply_log.c.type, sa.func.count().label("n"))
                 .where(reply_log.c.at >= since).group_by("day", reply_log.c.type)
                 .order_by("day"))
        by_day: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                by_day.setdefault(str(row.day), {})[row.type] = row.n
        result = []
        for day_key, counts in sorted(by_day.items()):
            total = sum(counts.values())
            result.append({
                "day": day_key, "messages": total,
                "answer_rate": round(counts.get("answer", 0) / total, 3),
                "fallback_rate": round(counts.get("fallback", 0) / total, 3),
            })
        return result

    # ------------------------------------------------------------ corpus state

    def corpus_version(self) -> str | None:
        """The corpus version last taught on any replica, or None if never."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(corpus_state.c.version)
                                .where(corpus_state.c.id == 1)).scalar()

    def set_corpus_version(self, version: str) -> None:
        with self.engine.begin() as conn:
            done = conn.execute(corpus_state.update().where(corpus_state.c.id == 1)
                                .values(version=version, updated_at=_now()))
            if not done.rowcount:
                conn.execute(corpus_state.insert().values(id=1, version=version,
                                                          updated_at=_now()))

    # -------------------------------------------------------------- staff users

    def add_user(self, username: str, password_hash: str, role: str | None = None) -> None:
        """Create a user, or set an existing user's password (and role, when given)."""
        if role is not None and role not in ROLES:
            raise ValueError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
        with self.engine.begin() as conn:
            exists = conn.execute(sa.select(staff_users.c.username)
                                  .where(staff_users.c.username == username)).first()
            if exists:
                changes: dict[str, Any] = {"password_hash": password_hash}
                if role is not None:
                    changes["role"] = role
                conn.execute(staff_users.update().where(staff_users.c.username == username)
                             .values(**changes))
                # A password reset signs the user out everywhere.
                conn.execute(staff_sessions.delete().where(
                    staff_sessions.c.username == username))
            else:
                conn.execute(staff_users.insert().values(
                    username=username, password_hash=password_hash, created_at=_now(),
                    role=role or "staff", disabled=False))

    def remove_user(self, username: str) -> bool:
        with self.engine.begin() as conn:
            conn.execute(staff_sessions.delete().where(staff_sessions.c.username == username))
            removed = conn.execute(staff_users.delete().where(
                staff_users.c.username == username)).rowcount
        return bool(removed)

    def list_users(self) -> list[dict[str, Any]]:
        """Every staff user with role, state and how many sign-in sessions are open."""
        open_sessions = (sa.select(sa.func.count()).where(
            staff_sessions.c.username == staff_users.c.username)
            .correlate(staff_users).scalar_subquery())
        query = sa.select(staff_users.c.username, staff_users.c.role, staff_users.c.disabled,
                          staff_users.c.created_at, open_sessions.label("sessions")
                          ).order_by(staff_users.c.username)
        with self.engine.connect() as conn:
            return [{"username": r.username, "role": r.role, "disabled": bool(r.disabled),
                     "created_at": r.created_at.isoformat(), "sessions": int(r.sessions)}
                    for r in conn.execute(query)]

    def set_disabled(self, username: str, disabled: bool) -> bool:
        """Disable (or enable) a user; disabling ends their sessions. False: no such user."""
        with self.engine.begin() as conn:
            done = conn.execute(staff_users.update().where(
                staff_users.c.username == username).values(disabled=disabled)).rowcount
            if done and disabled:
                conn.execute(staff_sessions.delete().where(
                    staff_sessions.c.username == username))
        return bool(done)

    def set_role(self, username: str, role: str) -> bool:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
        with self.engine.begin() as conn:
            done = conn.execute(staff_users.update().where(
                staff_users.c.username == username).values(role=role)).rowcount
        return bool(done)

    def user_role(self, username: str) -> str | None:
        """The role of an enabled user, else None."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(staff_users.c.role).where(
                staff_users.c.username == username,
                staff_users.c.disabled == sa.false())).scalar()

    # --------------------------------------------------------- staff sessions

    def start_staff_session(self, username: str) -> str:
        token = secrets.token_urlsafe(32)
        now = _now()
        with self.engine.begin() as conn:
            conn.execute(staff_sessions.insert().values(
                token_hash=_token_hash(token), username=username, created_at=now,
                last_seen=now))
        return token

    def staff_session_user(self, token: str, *, idle: int, absolute: int) -> str | None:
        """The signed-in user, or None once the session ended or timed out."""
        now = _now()
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(staff_sessions).where(
                staff_sessions.c.token_hash == _token_hash(token))).first()
            if row is None:
                return None
            expired = (now - row.last_seen > dt.timedelta(seconds=idle)
                       or now - row.created_at > dt.timedelta(seconds=absolute))
            user = conn.execute(sa.select(staff_users.c.username).where(
                staff_users.c.username == row.username,
                staff_users.c.disabled == sa.false())).first()
            if expired or user is None:
                conn.execute(staff_sessions.delete().where(
                    staff_sessions.c.token_hash == row.token_hash))
                return None
            conn.execute(staff_sessions.update().where(
                staff_sessions.c.token_hash == row.token_hash).values(last_seen=now))
            return str(row.username)

    def end_staff_session(self, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(staff_sessions.delete().where(
                staff_sessions.c.token_hash == _token_hash(token)))

    def password_hash(self, username: str) -> str | None:
        """The hash to check a sign-in against; None for no such user or a disabled one."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(staff_users.c.password_hash).where(
                staff_users.c.username == username,
                staff_users.c.disabled == sa.false())).scalar()

    # ---------------------------------------------------------------- audit log

    def audit(self, username: str, action: str, ticket_id: str | None = None,
              detail: str | None = "") -> None:
        with self.engine.begin() as conn:
            conn.execute(audit_log.insert().values(
                at=_now(), username=username, action=action, ticket_id=ticket_id, detail=detail))

    def audit_entries(self, limit: int = 200) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit))
            return [dict(r._mapping) | {"at": r.at.isoformat()} for r in rows]

    def audit_export(self, since: dt.datetime | None = None) -> Iterator[dict[str, Any]]:
        """The whole audit log (or from `since`, UTC), oldest first, streamed for auditors."""
        query = sa.select(audit_log).order_by(audit_log.c.id)
        if since is not None:
            query = query.where(audit_log.c.at >= since)
        with self.engine.connect() as conn:
            rows = conn.execution_options(yield_per=1000).execute(query)
            for r in rows:
                yield dict(r._mapping) | {"at": r.at.isoformat()}

    # ------------------------------------------------------------------- purge

    def purge(self, days: int) -> int:
        """Delete tickets, staff messages and feedback older than `days`.

        Times are kept to the second, so `<=`: purge(0) deletes what was written
        this very second too, which is what "0 days" promises."""
        cutoff = _now() - dt.timedelta(days=days)
        with self.engine.begin() as conn:
            old = conn.execute(tickets.delete().where(tickets.c.created_at <= cutoff)).rowcount
            conn.execute(staff_messages.delete().where(staff_messages.c.created_at <= cutoff))
            conn.execute(feedback.delete().where(feedback.c.created_at <= cutoff))
            conn.execute(reply_log.delete().where(reply_log.c.at <= cutoff))
            conn.execute(callbacks.delete().where(sa.or_(
                callbacks.c.created_at <= cutoff,
                callbacks.c.ticket_id.not_in(sa.select(tickets.c.id)))))
        return int(old)

    # ---------------------------------------------------------------- drafts

    def add_draft(self, *, kind: str, entry_id: str, payload: dict[str, Any], author: str,
                  ticket_id: str | None = None, procedure: str | None = None) -> str:
        draft_id = "D" + uuid.uuid4().hex[:11].upper()
        with self.engine.begin() as conn:
            conn.execute(drafts.insert().values(
                id=draft_id, kind=kind, status="pending", ticket_id=ticket_id,
                entry_id=entry_id, procedure=procedure, payload=json.dumps(payload),
                author=author, created_at=_now()))
        return draft_id

    def get_draft(self, draft_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(drafts).where(drafts.c.id == draft_id)).first()
        return _draft_dict(row._mapping) if row else None

    def list_drafts(self, status: str | None = "pending", ticket_id: str | None = None,
                    limit: int = 200) -> list[dict[str, Any]]:
        query = sa.select(drafts).order_by(drafts.c.created_at.desc(), drafts.c.id).limit(limit)
        if status:
            query = query.where(drafts.c.status == status)
        if ticket_id:
            query = query.where(drafts.c.ticket_id == ticket_id)
        with self.engine.connect() as conn:
            return [_draft_dict(row._mapping) for row in conn.execute(query)]

    def decide_draft(self, draft_id: str, status: str, by: str, reason: str | None = None,
                     payload: dict[str, Any] | None = None) -> bool:
        """Publish or reject a pending draft; False when it was no longer pending."""
        if status not in DRAFT_STATUSES[1:]:
            raise ValueError(f"unknown decision {status!r}")
        values: dict[str, Any] = {"status": status, "decided_by": by, "decided_at": _now(),
                                  "reason": reason}
        if payload is not None:
            values["payload"] = json.dumps(payload)
        with self.engine.begin() as conn:
            done = conn.execute(drafts.update().where(
                drafts.c.id == draft_id, drafts.c.status == "pending").values(**values))
        return bool(done.rowcount)

    # -------------------------------------------------------------- call-backs

    def add_callback(self, ticket_id: str, sealed: str) -> None:
        """Store a sealed call-back request; the store never sees it in clear."""
        with self.engine.begin() as conn:
            conn.execute(callbacks.insert().values(ticket_id=ticket_id, sealed=sealed,
                                                   created_at=_now()))

    def callbacks_for(self, ticket_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(callbacks).where(callbacks.c.ticket_id == ticket_id)
                                .order_by(callbacks.c.id))
            return [{"id": r.id, "sealed": r.sealed, "created_at": r.created_at.isoformat()}
                    for r in rows]

    def latest_open_ticket(self, session_id: str) -> str | None:
        """The newest open or answered ticket of a session, if any."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(tickets.c.id).where(
                tickets.c.session_id == session_id, tickets.c.status.not_in(CLOSED))
                .order_by(tickets.c.created_at.desc(), tickets.c.id.desc()).limit(1)).scalar()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _draft_dict(row: Any) -> dict[str, Any]:
    data = dict(row)
    data["payload"] = json.loads(data["payload"] or "{}")
    for key in ("created_at", "decided_at"):
        data[key] = data[key].isoformat() if data[key] else None
    return data


def _ticket_dict(row: Any) -> dict[str, Any]:
    data = dict(row)
    data["turns"] = json.loads(data["turns"] or "[]")
    data["candidates"] = json.loads(data["candidates"] or "[]")
    for key in ("created_at", "updated_at"):
        data[key] = data[key].isoformat() if data[key] else None
    data["urgent"] = bool(data["urgent"])
    return data
