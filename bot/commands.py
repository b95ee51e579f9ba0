"""What each `faqbot` sub-command does; argument parsing lives in `cli.py`.

Settings come from `config.settings_from_args`, the one resolution every
command shares (this module never imports `cli.py`). Commands that change
the database write an audit row naming the person acting (`--actor`, else
the user who ran sudo, else the operating-system user).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import getpass
import json
import logging
import os
import sys
from collections.abc import Iterable
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

from .assembly import build_bot
from .config import Settings, settings_from_args
from .corpus import entry_to_json, load_corpus, read_corpus
from .logs import replica_label, setup_logging
from .session_tokens import SessionTokens
from .store import Store, mask_url
from .version import version


def _settings(args: argparse.Namespace, **flags: Any) -> Settings:
    """The command's settings; logging is set up from them (INFO for serve, else WARNING)."""
    settings = settings_from_args(args, **flags)
    setup_logging(settings.log_format, replica_label(settings.replica_name, settings.port),
                  logging.INFO if args.command == "serve" else logging.WARNING)
    return settings


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for this uid (some containers)
        return f"uid-{os.getuid()}"


def _actor(args: argparse.Namespace) -> str:
    """Who is acting: --actor, else the person who ran sudo, else the OS user."""
    explicit = (getattr(args, "actor", None) or "").strip()
    if explicit:
        if len(explicit) > 64 or not explicit.isprintable():
            raise ValueError("--actor takes up to 64 printable characters")
        return explicit
    sudo_user = os.environ.get("SUDO_USER", "")
    return sudo_user if sudo_user and sudo_user != "root" else _os_user()


def _audit(store: Store, args: argparse.Namespace, action: str, ticket_id: str | None = None,
           detail: str = "") -> None:
    """An audit row for a command-line action; the detail says it came from the CLI."""
    via = f"cli, os user {_os_user()}"
    store.audit(_actor(args), action, ticket_id, f"{detail} ({via})" if detail else via)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_safe(value: Any) -> Any:
    """A cell a spreadsheet will not run as a formula (patients and staff typed this text)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _write_csv(rows: Iterable[dict[str, Any]], fields: list[str]) -> None:
    writer = csv.DictWriter(sys.stdout, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_safe(v) for k, v in row.items()})


def _lines(values: list[str]) -> list[str] | None:
    """Lines from stdin when the argument is '-', else None."""
    if values == ["-"]:
        return [line.rstrip("\n") for line in sys.stdin if line.strip()]
    return None


# ------------------------------------------------------------------ ask / search


def cmd_ask(args: argparse.Namespace) -> int:
    settings = _settings(args)
    store = Store(args.db) if args.db else None
    bot = build_bot(settings, tickets=store)
    tokens = SessionTokens.from_settings(settings.session_secret, settings.data_dir)
    lines = _lines(args.text)
    messages = lines if lines is not None else [" ".join(args.text)]
    session = args.session
    for number, text in enumerate(messages):
        session_id = session or f"cli-{dt.datetime.now():%Y%m%d%H%M%S}"
        if args.new_session_per_line:
            session_id = f"{session_id}-{number}"
        reply = bot.reply(text, session_id)
        session = session or reply.session_id if not args.new_session_per_line else session
        if args.json:
            reply = replace(reply, session_token=tokens.issue(reply.session_id))
            print(json.dumps(reply.to_json(), ensure_ascii=False), flush=True)
        else:
            print(f"[{reply.type}] {reply.text}")
            for suggestion in reply.suggestions:
                print(f"  - {suggestion.question} ({suggestion.faq_id})")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    settings = _settings(args)
    bot = build_bot(settings)
    lines = _lines(args.query)
    queries = lines if lines is not None else [" ".join(args.query)]
    for query in queries:
        results = bot.retriever.search(query, k=args.k)
        if args.json:
            print(json.dumps({"query": query, "results": [
                {"faq_id": m.faq_id, "score": round(m.score, 4)} for m in results
            ]}, ensure_ascii=False), flush=True)
        else:
            print(query)
            for m in results:
                print(f"  {m.score:.3f}  {m.faq_id}")
    return 0


# ------------------------------------------------------------- corpus commands


def cmd_validate(args: argparse.Namespace) -> int:
    from .readability import reading_problems
    from .spanish import check_twins, load_twins

    settings = _settings(args)
    corpus = read_corpus(settings.corpus)
    problems = list(corpus.problems) + reading_problems(corpus.entries)
    twins = load_twins(settings.corpus, corpus) if Path(settings.corpus).is_dir() else None
    if twins is not None:
        problems += check_twins(corpus, twins) + reading_problems(twins.entries, "es")
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity == "warning"]
    for problem in problems:
        print(problem, file=sys.stderr if problem.severity == "error" else sys.stdout)
    spanish = f", {len(twins.entries)} Spanish twins" if twins is not None else ""
    print(f"{len(corpus.entries)} entries{spanish}, {len(errors)} error(s), "
          f"{len(warnings)} warning(s); corpus version {corpus.version}")
    return 1 if errors else 0


def cmd_export(args: argparse.Namespace) -> int:
    from .spanish import load_twins

    settings = _settings(args)
    corpus = load_corpus(settings.corpus)
    if args.language == "es":
        twins = load_twins(settings.corpus, corpus) if Path(settings.corpus).is_dir() else None
        if twins is None:
            raise ValueError("this corpus has no Spanish twins (corpus/es/)")
        for entry in twins.entries:
            # Each twin names its English entry: the ids are shared.
            print(json.dumps({**entry_to_json(entry), "language": "es", "english_id": entry.id},
                             ensure_ascii=False))
        return 0
    for entry in corpus.entries:
        print(json.dumps(entry_to_json(entry), ensure_ascii=False))
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from .importer import import_qna

    out = Path(args.out) if args.out else Path("corpus") / f"{args.procedure}-imported.yaml"
    count = import_qna(Path(args.file), out, procedure=args.procedure, topic=args.topic)
    print(f"wrote {count} entries to {out}; review them, then run faqbot validate")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .evaluation import run_evaluation

    settings = _settings(args)
    splits = tuple(args.split or ("train", "dev"))
    report = run_evaluation(settings, Path(args.data), splits)
    print(report.summary())
    Path(args.report).parent.mkdir(parents=True, exist_ok=True)
    Path(args.report).write_text(report.markdown(), encoding="utf-8")
    print(f"misses written to {args.report}")
    failed = report.below_floors("dev")
    for line in failed:
        print(f"below floor: {line}", file=sys.stderr)
    return 1 if failed else 0


def cmd_train_ranker(args: argparse.Namespace) -> int:
    from .ranker import MODEL_ES_PATH, MODEL_PATH, RankerModel
    from .tickets import MemoryTickets
    from .training import train_ranker

    settings = _settings(args)
    bot = build_bot(settings, tickets=MemoryTickets(), ranker=RankerModel.untrained())
    spanish = args.language == "es"
    if spanish:
        bot.ranker_es = RankerModel.untrained()
    out = Path(args.out) if args.out else (MODEL_ES_PATH if spanish else MODEL_PATH)
    splits = Path(args.data) / "eval" / ("split_es" if spanish else "split")
    model = train_ranker(bot, splits, out, args.language)
    point = model.operating_point
    print(f"ranker written to {out} (corpus {model.corpus_hash}); operating point: "
          f"answer {point.answer}, risky {point.risky_answer}, clarify {point.clarify}")
    for row in model.report["dev_reliability_top"]:
        print(f"  dev top-candidate band {row['band']}: n={row['n']:<4} predicted "
              f"{row['predicted']:.2f} observed {row['observed']:.2f}")
    return 0


# ------------------------------------------------------------------- serve


def cmd_serve(args: argparse.Namespace) -> int:
    from .web.server import run

    settings = _settings(args, host=args.host, port=args.port,
                         rate_limit=args.rate_limit, sessions=args.sessions)
    if not settings.on_call_number.strip():
        # Patients would be told to "call the on-call line" with no number to call.
        raise ValueError("set on_call_number (the number patients call out of hours), or "
                         "on_call_number: none if there is no on-call line")
    sessions = settings.sessions if settings.sessions == "memory" else mask_url(settings.sessions)
    # Which version ran against which stores, in the log an auditor keeps.
    logging.getLogger("faqbot").info("faqbot %s starting: database %s, sessions %s",
                                     version(), mask_url(settings.db_url), sessions)
    run(settings)
    return 0


# ------------------------------------------------------------------ review


def _store(args: argparse.Namespace, *, create: bool = False) -> Store:
    """The database the settings name. Unless `create`, a SQLite file must already exist:
    a command pointed at the wrong place says so instead of making an empty database."""
    url = _settings(args).db_url
    if not create and url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path != ":memory:" and not Path(path).exists():
            raise ValueError(f"no database at {path}; point --db, --config or "
                             "FAQBOT_DB / FAQBOT_DATA_DIR at the server's database")
    return Store(url)


TICKET_FIELDS = ["id", "kind", "status", "urgent", "created_at", "updated_at", "procedure",
                 "message", "summary", "handled_by", "staff_reply"]


def cmd_review(args: argparse.Namespace) -> int:
    if args.review_command == "purge":
        return cmd_purge(args)
    # Reading tickets from a new, empty database harms nothing (and `review list`
    # on a fresh install is part of the outer contract): review creates it.
    with closing(_store(args, create=True)) as store:
        return _review(args, store)


def _review(args: argparse.Namespace, store: Store) -> int:
    command = args.review_command
    if command == "list":
        rows = store.list_tickets(status=args.status)
        if args.json:
            print(json.dumps(rows, ensure_ascii=False, indent=1))
        else:
            for t in rows:
                flag = "!" if t["urgent"] else " "
                print(f"{flag} {t['id']}  {t['created_at']}  {t['kind']:<9} {t['status']:<9} "
                      f"{t['message'][:70]}")
            print(f"{len(rows)} ticket(s) in {mask_url(store.url)}")
        return 0
    if command == "show":
        ticket = store.get_ticket(args.ticket_id)
        if ticket is None:
            print(f"faqbot: no ticket {args.ticket_id}", file=sys.stderr)
            return 1
        _audit(store, args, "view", args.ticket_id)
        print(json.dumps(ticket, ensure_ascii=False, indent=1))
        return 0
    if command == "resolve":
        by = args.by or _actor(args)
        if not store.set_status(args.ticket_id, "resolved", by):
            print(f"faqbot: no ticket {args.ticket_id}", file=sys.stderr)
            return 1
        store.audit(by, "resolve", args.ticket_id, f"cli, os user {_os_user()}")
        print(f"resolved {args.ticket_id}")
        return 0
    if command == "export":
        rows = store.list_tickets(limit=1_000_000)
        # Written before the export leaves the process: patients' words are in it.
        _audit(store, args, "export", None, f"{len(rows)} tickets as {args.format}")
        if args.format == "json":
            print(json.dumps(rows, ensure_ascii=False))
        else:
            _write_csv(rows, TICKET_FIELDS)
        return 0
    if command == "insights":
        from .insights import insights

        data = insights(store)
        if args.json:
            print(json.dumps(data, ensure_ascii=False, indent=1))
        else:
            print("Most-asked unanswered questions:")
            for group in data["gaps"]:
                print(f"  {group['count']:>3}  {group['example']}")
            print("Daily rates:")
            for day in data["daily"]:
                print(f"  {day['day']}  messages {day['messages']:>4}  answered "
                      f"{day['answer_rate']:.0%}  fallback {day['fallback_rate']:.0%}")
        return 0
    raise ValueError(f"unknown review command {command}")


def cmd_purge(args: argparse.Namespace) -> int:
    settings = _settings(args)
    days = args.days if args.days is not None else settings.retention_days
    if days < 0:
        raise ValueError(f"--days must not be negative, got {days}")
    if days == 0 and not args.yes:
        print("faqbot: --days 0 deletes every ticket, staff reply and feedback; "
              "add --yes to do it", file=sys.stderr)
        return 2
    with closing(_store(args)) as store:
        where = mask_url(store.url)
        removed = store.purge(days)
        _audit(store, args, "purge", None, f"older than {days} days: {removed} tickets")
    print(f"purged {removed} ticket(s) older than {days} days from {where}")
    return 0


# ------------------------------------------------------------------- staff


def cmd_staff(args: argparse.Namespace) -> int:
    if args.staff_command == "add-user":
        return _add_user(args)
    with closing(_store(args)) as store:
        return _staff(args, store)


def _staff(args: argparse.Namespace, store: Store) -> int:
    command = args.staff_command
    where = mask_url(store.url)
    if command == "list":
        users = store.list_users()
        if args.json:
            print(json.dumps(users, ensure_ascii=False, indent=1))
            return 0
        for user in users:
            state = "disabled" if user["disabled"] else "active"
            print(f"{user['username']:<24} {user['role']:<6} {state:<8} "
                  f"sessions {user['sessions']:<3} created {user['created_at']}")
        print(f"{len(users)} staff user(s) in {where}")
        return 0
    name = args.username
    if command in ("remove-user", "remove"):
        done, action, said = store.remove_user(name), "remove-user", "removed"
    elif command in ("disable", "enable"):
        done = store.set_disabled(name, command == "disable")
        action, said = f"{command}-user", f"{command}d"
    elif command == "role":
        done, action, said = store.set_role(name, args.role), "set-role", f"is now {args.role}"
    else:
        raise ValueError(f"unknown staff command {command}")
    if not done:
        print(f"faqbot: no staff user {name!r} in {where}", file=sys.stderr)
        return 1
    _audit(store, args, action, None, f"{name}: {args.role}" if command == "role" else name)
    ended = "; their sessions are ended" if action in ("remove-user", "disable-user") else ""
    print(f"staff user {name} {said}{ended} ({where})")
    return 0


def _add_user(args: argparse.Namespace) -> int:
    from .web.auth import USERNAME, hash_password, password_problem

    if not USERNAME.fullmatch(args.username):
        print("faqbot: usernames use 1 to 64 of a-z, 0-9, dot, underscore and hyphen",
              file=sys.stderr)
        return 1
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"Password for {args.username}: ")
        if getpass.getpass("Again: ") != password:
            print("faqbot: passwords differ", file=sys.stderr)
            return 1
    problem = password_problem(args.username, password)
    if problem:
        print(f"faqbot: {problem}", file=sys.stderr)
        return 1
    # The first user may come before the server's first start: the database is created.
    with closing(_store(args, create=True)) as store:
        store.add_user(args.username, hash_password(password), args.role)
        _audit(store, args, "add-user", None,
               args.username + (f": {args.role}" if args.role else ""))
        print(f"staff user {args.username} saved in {mask_url(store.url)}")
    return 0


# ------------------------------------------------------------------- audit


def _since(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"--since: expected a date or time like 2026-11-01 or "
                         f"2026-11-01T08:00, got {value!r}") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


AUDIT_FIELDS = ["id", "at", "username", "action", "ticket_id", "detail"]


def cmd_audit(args: argparse.Namespace) -> int:
    if args.audit_command != "export":
        raise ValueError(f"unknown audit command {args.audit_command}")
    since = _since(args.since)
    with closing(_store(args)) as store:
        rows = store.audit_export(since)
        if args.format == "csv":
            _write_csv(rows, AUDIT_FIELDS)
        else:
            for row in rows:
                sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
        sys.stdout.flush()
        # After the rows: the export's own entry is in the next one, not this one.
        _audit(store, args, "audit-export", None,
               f"{args.format}" + (f" since {since.isoformat()}" if since else ""))
    return 0
