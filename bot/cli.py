"""The `faqbot` command: argument parsing only; `commands.py` does the work.

serve, ask, search, validate, export, import, eval, train-ranker, review, purge,
staff, audit. Every command resolves its settings the same way
(`config.settings_from_args`): defaults, the settings file (--config or
$FAQBOT_CONFIG), FAQBOT_<NAME> variables, then flags.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .config import CONFIG_ENV, SETTINGS, STAFF_ROLES
from .version import version

_SETTINGS_NOTE = (f"Settings come from defaults, then the settings file (--config FILE, or "
                  f"${CONFIG_ENV}), then FAQBOT_<NAME> environment variables, then flags; "
                  "every command reads them the same way (`faqbot serve --help` lists them).")


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help=f"settings YAML file (default: ${CONFIG_ENV})")


def _add_corpus(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corpus", help="corpus directory or .jsonl file (default: bundled)")
    _add_config(parser)


def _add_store(parser: argparse.ArgumentParser, *, actor: bool = True) -> None:
    """--db and --config for a command on the database; --actor for one that is audited."""
    parser.add_argument("--db", help="database URL (default: the db setting, else the SQLite "
                        "file under data_dir)")
    _add_config(parser)
    if actor:
        parser.add_argument("--actor", help="who is acting, for the audit log (default: the "
                            "user who ran sudo, else the operating-system user)")


def _add_purge(parser: argparse.ArgumentParser) -> None:
    _add_store(parser)
    parser.add_argument("--days", type=int, help="override retention_days; 0 deletes every "
                        "ticket and needs --yes")
    parser.add_argument("--yes", action="store_true", help="confirm --days 0")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="faqbot", description="Patient FAQ chatbot for interventional procedures.",
        epilog=_SETTINGS_NOTE,
    )
    parser.add_argument("--version", action="version", version=f"faqbot {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve", help="run the web server",
        description="Run the web server. " + _SETTINGS_NOTE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="settings (config file key / FAQBOT_<NAME>):\n" + "\n".join(
            f"  {s.name:<18} {s.help} (default: {s.default!r})" for s in SETTINGS
        ),
    )
    _add_corpus(serve)
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8080)")
    serve.add_argument("--db", help="database URL: sqlite:///path.db or postgresql://...")
    serve.add_argument("--rate-limit", type=int, dest="rate_limit",
                       help="messages per minute per conversation (rate_limit_address: per "
                            "address); 0 turns rate limiting off")
    serve.add_argument("--sessions", help="session store: memory (default) or redis://...")

    ask = sub.add_parser("ask", help="ask the bot one question (or - for stdin lines)")
    _add_corpus(ask)
    ask.add_argument("--session", help="session id to use")
    ask.add_argument("--json", action="store_true", help="print the reply object as JSON")
    ask.add_argument("--new-session-per-line", action="store_true",
                     help="with -, give each line its own session")
    ask.add_argument("--db", help="database URL for tickets (default: in memory)")
    ask.add_argument("text", nargs="+", help="the message, or - to read lines from stdin")

    search = sub.add_parser("search", help="the retriever alone, one query a line")
    _add_corpus(search)
    search.add_argument("--k", type=int, default=5, help="results per query (default 5)")
    search.add_argument("--json", action="store_true", help="JSON Lines output")
    search.add_argument("query", nargs="*", help="query text, or - for stdin lines")

    validate = sub.add_parser("validate", help="check the corpus and report every problem")
    _add_corpus(validate)

    export = sub.add_parser("export", help="write the corpus as interchange JSONL to stdout")
    _add_corpus(export)
    export.add_argument("--language", choices=("en", "es"), default="en",
                        help="es: the Spanish twins, each with the id of its English entry")

    imp = sub.add_parser("import", help="import a QnA-Maker-style TSV/CSV as new YAML entries")
    imp.add_argument("file", help="TSV or CSV with Question, Answer, Source, Metadata columns")
    imp.add_argument("--procedure", required=True, help="procedure slug for the new entries")
    imp.add_argument("--topic", default="overview", help="topic slug when Metadata has none")
    imp.add_argument("--out", help="YAML file to write (default corpus/<procedure>-imported.yaml)")

    ev = sub.add_parser("eval", help="evaluate answers on the labelled question sets")
    _add_corpus(ev)
    ev.add_argument("--data", default=str(Path(__file__).resolve().parent.parent / "tests"),
                    help="tests directory holding eval/ and data/")
    ev.add_argument("--report", default="reports/eval.md", help="where to write misses")
    ev.add_argument("--split", action="append",
                    choices=("train", "dev", "test", "es-train", "es-dev", "es-test"),
                    help="split to score (repeatable; default train and dev). The sealed "
                    "test split is scored once, at the end of a round of work")

    tr = sub.add_parser("train-ranker", help="refit the re-ranker (train split) and choose "
                        "its operating point (dev split)")
    _add_corpus(tr)
    tr.add_argument("--data", default=str(Path(__file__).resolve().parent.parent / "tests"),
                    help="tests directory holding eval/split/{train,dev}.yaml")
    tr.add_argument("--out", default=None, help="where to write the artefact "
                    "(default: bot/models/ranker.json, or ranker_es.json)")
    tr.add_argument("--language", choices=("en", "es"), default="en",
                    help="es: fit on the Spanish splits (tests/eval/split_es) and twins")

    review = sub.add_parser("review", help="staff tickets")
    review_sub = review.add_subparsers(dest="review_command", required=True)
    for name, text in (("list", "list tickets"), ("show", "show one ticket (audited)"),
                       ("resolve", "resolve a ticket (audited)"),
                       ("export", "export tickets (audited)"),
                       ("insights", "most-asked unanswered questions and daily rates"),
                       ("purge", "delete tickets past the retention period (audited)")):
        p = review_sub.add_parser(name, help=text)
        if name == "purge":
            _add_purge(p)
        else:
            _add_store(p, actor=name in ("show", "resolve", "export"))
        if name == "list":
            p.add_argument("--status", help="open, answered, resolved or dismissed")
            p.add_argument("--json", action="store_true", help="print a JSON array")
        if name in ("show", "resolve"):
            p.add_argument("ticket_id")
        if name == "resolve":
            p.add_argument("--by", help="who resolved it (default: --actor's default)")
        if name == "export":
            p.add_argument("--format", choices=("csv", "json"), default="csv")
        if name == "insights":
            p.add_argument("--json", action="store_true")

    purge = sub.add_parser("purge", help="delete tickets past the retention period (the same "
                           "as review purge)")
    _add_purge(purge)

    staff = sub.add_parser("staff", help="staff accounts", epilog=_SETTINGS_NOTE)
    staff_sub = staff.add_subparsers(dest="staff_command", required=True)
    add_user = staff_sub.add_parser("add-user", help="create a staff user, or set an existing "
                                    "user's password (asks for it)")
    add_user.add_argument("username")
    _add_store(add_user)
    add_user.add_argument("--password-stdin", action="store_true",
                          help="read the password from standard input")
    add_user.add_argument("--role", choices=STAFF_ROLES,
                          help="role of the user (new users: staff)")
    listing = staff_sub.add_parser("list", help="list staff users, their role and state")
    _add_store(listing, actor=False)
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    for name, text in (("remove-user", "remove a staff user and end their sessions"),
                       ("remove", "the same as remove-user"),
                       ("disable", "stop a user signing in and end their sessions"),
                       ("enable", "let a disabled user sign in again")):
        p = staff_sub.add_parser(name, help=text)
        p.add_argument("username")
        _add_store(p)
    role = staff_sub.add_parser("role", help="set a staff user's role")
    role.add_argument("username")
    role.add_argument("role", choices=STAFF_ROLES)
    _add_store(role)

    audit = sub.add_parser("audit", help="the audit log of staff and command-line actions")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    audit_export = audit_sub.add_parser("export", help="write the audit log to standard "
                                        "output, oldest first (audited)")
    _add_store(audit_export)
    audit_export.add_argument("--format", choices=("csv", "jsonl"), default="jsonl",
                              help="JSON Lines (default) or CSV")
    audit_export.add_argument("--since", help="only entries at or after this UTC date or "
                              "time (2026-11-01 or 2026-11-01T08:00)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from . import commands  # imported late: `faqbot --help` stays fast

    handler = getattr(commands, f"cmd_{args.command.replace('-', '_')}")
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except (ValueError, OSError) as exc:
        print(f"faqbot: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

