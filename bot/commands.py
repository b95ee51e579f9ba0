"""What each `faqbot` sub-command does; argument parsing lives in `cli.py`."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import getpass
import io
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from .assembly import build_bot
from .config import Settings
from .corpus import entry_to_json, load_corpus, read_corpus
from .session_tokens import SessionTokens
from .store import Store


def _settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    from .cli import _settings as settings_from_args

    return settings_from_args(args, **overrides)


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
    from .spanish import check_twins, load_twins

    settings = _settings(args)
    corpus = read_corpus(settings.corpus)
    problems = list(corpus.problems)
    twins = load_twins(settings.corpus, corpus) if Path(settings.corpus).is_dir() else None
    if twins is not None:
        problems += check_twins(corpus, twins)
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
    from .engine import MemoryTickets
    from .ranker import MODEL_ES_PATH, MODEL_PATH, RankerModel
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
    from .web.app import run

    settings = _settings(args, host=args.host, port=args.port, db=args.db,
                         rate_limit=args.rate_limit, sessions=args.sessions)
    run(settings)
    return 0


# ------------------------------------------------------------------ review


def _store(args: argparse.Namespace) -> Store:
    settings = _settings(args)
    return Store(args.db or settings.db_url)


def cmd_review(args: argparse.Namespace) -> int:
    store = _store(args)
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
            print(f"{len(rows)} ticket(s)")
        return 0
    if command == "show":
        ticket = store.get_ticket(args.ticket_id)
        if ticket is None:
            print(f"faqbot: no ticket {args.ticket_id}", file=sys.stderr)
            return 1
        store.audit("cli", "view", args.ticket_id)
        print(json.dumps(ticket, ensure_ascii=False, indent=1))
        return 0
    if command == "resolve":
        if not store.set_status(args.ticket_id, "resolved", args.by):
            print(f"faqbot: no ticket {args.ticket_id}", file=sys.stderr)
            return 1
        store.audit(args.by, "resolve", args.ticket_id)
        print(f"resolved {args.ticket_id}")
        return 0
    if command == "export":
        rows = store.list_tickets(limit=1_000_000)
        if args.format == "json":
            print(json.dumps(rows, ensure_ascii=False))
        else:
            buffer = io.StringIO()
            fields = ["id", "kind", "status", "urgent", "created_at", "updated_at", "procedure",
                      "message", "summary", "handled_by", "staff_reply"]
            writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
            sys.stdout.write(buffer.getvalue())
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
    if command == "purge":
        settings = _settings(args)
        days = args.days if args.days is not None else settings.retention_days
        removed = store.purge(days)
        store.audit("cli", "purge", None, f"older than {days} days: {removed} tickets")
        print(f"purged {removed} ticket(s) older than {days} days")
        return 0
    raise ValueError(f"unknown review command {command}")


def cmd_staff(args: argparse.Namespace) -> int:
    from .web.auth import USERNAME, hash_password, password_problem

    store = _store(args)
    if args.staff_command == "remove-user":
        if not store.remove_user(args.username):
            print(f"faqbot: no staff user {args.username!r}", file=sys.stderr)
            return 1
        store.audit("cli", "remove-user", None, args.username)
        print(f"staff user {args.username} removed; their sessions are ended")
        return 0
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
    store.add_user(args.username, hash_password(password))
    store.audit("cli", "add-user", None, args.username)
    print(f"staff user {args.username} saved")
    return 0

