"""The `faqbot` command: serve, ask, search, validate, export, import, eval, review, staff."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .config import SETTINGS, Settings, load_settings


def _add_corpus(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corpus", help="corpus directory or .jsonl file (default: bundled)")
    parser.add_argument("--config", help="settings YAML file")


def _settings(args: argparse.Namespace, **overrides: object) -> Settings:
    settings = load_settings(getattr(args, "config", None))
    changes = {k: v for k, v in overrides.items() if v is not None}
    if getattr(args, "corpus", None):
        changes["corpus"] = args.corpus
    return settings.replace(**changes) if changes else settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="faqbot", description="Patient FAQ chatbot for interventional procedures."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve", help="run the web server",
        description="Run the web server. Every setting can also come from --config FILE or "
        "a FAQBOT_<NAME> environment variable.",
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
                       help="messages per minute per client; 0 turns rate limiting off")
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
    for name, text in (("list", "list tickets"), ("show", "show one ticket"),
                       ("resolve", "resolve a ticket"), ("export", "export tickets"),
                       ("insights", "most-asked unanswered questions and daily rates"),
                       ("purge", "delete tickets past the retention period")):
        p = review_sub.add_parser(name, help=text)
        p.add_argument("--db", help="database URL")
        p.add_argument("--config", help="settings YAML file")
        if name == "list":
            p.add_argument("--status", help="open, answered, resolved or dismissed")
            p.add_argument("--json", action="store_true", help="print a JSON array")
        if name in ("show", "resolve"):
            p.add_argument("ticket_id")
        if name == "resolve":
            p.add_argument("--by", default="cli", help="who resolved it")
        if name == "export":
            p.add_argument("--format", choices=("csv", "json"), default="csv")
        if name == "insights":
            p.add_argument("--json", action="store_true")
        if name == "purge":
            p.add_argument("--days", type=int, help="override retention_days")

    staff = sub.add_parser("staff", help="staff accounts")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True)
    add_user = staff_sub.add_parser("add-user", help="create a staff user (asks for a password)")
    add_user.add_argument("username")
    add_user.add_argument("--db", help="database URL")
    add_user.add_argument("--config", help="settings YAML file")
    add_user.add_argument("--password-stdin", action="store_true",
                          help="read the password from standard input")
    remove_user = staff_sub.add_parser("remove-user", help="remove a staff user and end "
                                       "their sessions")
    remove_user.add_argument("username")
    remove_user.add_argument("--db", help="database URL")
    remove_user.add_argument("--config", help="settings YAML file")
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

