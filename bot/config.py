"""Settings: one table of names, defaults and help lines.

The same table feeds the YAML config file, the FAQBOT_* environment
variables, `faqbot serve --help` and the README's settings table (a test
checks they agree). Bad values fail at start-up with the setting's name.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent

# Recorded per staff user (`faqbot staff role`); what each may do is the console's call.
# A clinician also approves taught drafts (not their own) before patients see them.
STAFF_ROLES = ("staff", "admin", "clinician")


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    parse: Callable[[str], Any] = str


def _bool(value: str) -> bool:
    lowered = str(value).strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _list(value: str | list[str]) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return tuple(v.strip() for v in str(value).split(",") if v.strip())


def _hours(value: str) -> tuple[int, int]:
    start, _, end = str(value).partition("-")
    hours = (int(start), int(end))
    if not 0 <= hours[0] < hours[1] <= 24:
        raise ValueError(f"office hours must look like 8-17, got {value!r}")
    return hours


def _fraction(value: str) -> float:
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"must be between 0 and 1, got {value!r}")
    return number


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError(f"must not be negative, got {value!r}")
    return number


def _seconds(value: str) -> float:
    number = float(value)
    if number < 0:
        raise ValueError(f"must not be negative, got {value!r}")
    return number


def _log_format(value: str) -> str:
    lowered = str(value).strip().lower()
    if lowered not in LOG_FORMATS:
        raise ValueError(f"expected one of {', '.join(LOG_FORMATS)}, got {value!r}")
    return lowered


LOG_FORMATS = ("text", "json")


def _callback_key(value: str) -> str:
    from .callbacks import parse_keys  # cryptography loads only when a key is given

    return parse_keys(value) if str(value).strip() else ""


def _timezone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = str(value).strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"expected an IANA time zone such as America/Chicago, got "
                         f"{value!r}") from None
    return name


# `on_call_number: none` says a deployment has no on-call line on purpose.
NO_ON_CALL = "none"
ATTACHMENT_REPLIES = ("ask", "handoff")


def _attachment_reply(value: str) -> str:
    lowered = str(value).strip().lower()
    if lowered not in ATTACHMENT_REPLIES:
        raise ValueError(f"expected one of {', '.join(ATTACHMENT_REPLIES)}, got {value!r}")
    return lowered

SETTINGS: tuple[Setting, ...] = (
    Setting("host", "127.0.0.1", "Address to listen on."),
    Setting("port", 8080, "Port to listen on.", _positive_int),
    Setting("corpus", str(ROOT / "corpus"), "Corpus directory or interchange .jsonl file."),
    Setting("intents", str(ROOT / "intents"), "Directory of intent YAML files."),
    Setting("data_dir", str(ROOT / "data"), "Where the SQLite database and caches live."),
    Setting("index_cache", True, "Save the built index under data_dir and load it at the "
            "next start with the same corpus.", _bool),
    Setting("db", "", "Database URL (sqlite:///path.db or postgresql://...); "
            "default: sqlite file under data_dir."),
    Setting("emergency_number", "911", "Emergency number shown to patients."),
    Setting("on_call_number", "", "On-call number given after office hours; `faqbot serve` "
            "refuses to start without one unless it is set to none."),
    Setting("office_hours", "8-17", "Staffed hours, Monday to Friday, in clinic_timezone.",
            _hours),
    Setting("clinic_timezone", "UTC", "The clinic's IANA time zone (e.g. America/Chicago): "
            "office hours and every time in the staff console.", _timezone),
    Setting("callback_key", "", "Fernet key(s) that encrypt patients' call-back requests "
            "(comma-separated: the first encrypts, all decrypt); empty refuses call-backs.",
            _callback_key),
    Setting("reply_hours", "one working day", "How soon staff usually reply, in words."),
    Setting("answer_threshold", 0.0, "Probability needed to answer; 0 takes the operating "
            "point chosen on the dev split (bot/models/ranker.json).", _fraction),
    Setting("risky_threshold", 0.0, "Probability needed to answer a risky topic (warning "
            "signs, medicines, fasting, sedation); 0 takes the chosen operating point.",
            _fraction),
    Setting("context_boost", 0.2, "Score added to the procedure under discussion.", _fraction),
    Setting("rate_limit", 30, "Messages per minute per conversation (session); 0 turns "
            "every rate limit off.", _positive_int),
    Setting("rate_limit_address", 120, "Messages per minute from one client address, all "
            "its conversations together; keep it well above rate_limit (a hospital's guest "
            "Wi-Fi is one address behind NAT), never below it; 0: no per-address limit.",
            _positive_int),
    Setting("max_message_chars", 1000, "Longest patient message accepted.", _positive_int),
    Setting("max_body_bytes", 16384, "Largest request body accepted.", _positive_int),
    Setting("allowed_origins", (), "Comma-separated origins allowed to call the API "
            "from a browser (CORS); empty allows none.", _list),
    Setting("webhook_secret", "", "Shared secret; when set, POSTs to the channel webhooks "
            "need an X-Faqbot-Signature HMAC-SHA256 header."),
    Setting("staff_token", "", "Bearer token for the staff JSON API (scripts); empty "
            "disables token access."),
    Setting("staff_secret", "", "Secret that signs staff sign-in cookies and CSRF tokens "
            "(32+ random bytes, hex); replicas must share it; empty: a random one per "
            "process, so staff are signed out at every restart."),
    Setting("session_secret", "", "Secret for session tokens; empty: one is created once "
            "under data_dir. Replicas must share it."),
    Setting("session_ttl", 3600, "Seconds a conversation is remembered.", _positive_int),
    Setting("sessions", "memory", "Session and rate-limit store: memory (one process) or "
            "redis://host:6379/0 (shared by every replica)."),
    Setting("redis_prefix", "faqbot:", "Prefix of every Redis key, so deployments can "
            "share one Redis."),
    Setting("corpus_poll_seconds", 2.0, "How often each replica checks the database for "
            "a corpus taught on another replica; 0 turns it off.", _seconds),
    Setting("trust_forwarded", False, "Rate-limit by the last X-Forwarded-For address "
            "(turn on only behind your own proxy, which sets it).", _bool),
    Setting("replica_name", "", "Name sent in the X-Faqbot-Replica response header; "
            "empty: no such header."),
    Setting("log_format", "text", "Log lines as text (timestamp, level, logger, message) "
            "or json (one JSON object a line, for log collectors).", _log_format),
    Setting("metrics_token", "", "Bearer token for /metrics; empty: loopback only."),
    Setting("max_sessions", 10000, "Most conversations kept in memory.", _positive_int),
    Setting("retention_days", 90, "Tickets older than this are purged.", _positive_int),
    Setting("secure_cookies", True, "Mark staff cookies Secure (turn off only for "
            "plain-HTTP local use).", _bool),
    Setting("notify_url", "", "Incoming-webhook URL (Slack/Teams style) told about "
            "handoff and emergency tickets."),
    Setting("chatwoot_url", "", "Chatwoot base URL (e.g. https://chat.example.org) the "
            "Chatwoot agent bot replies through."),
    Setting("chatwoot_bot_token", "", "Chatwoot Agent Bot access token, sent as the "
            "api_access_token header on replies."),
    Setting("chatwoot_webhook_token", "", "Shared token Chatwoot must send (?token= or "
            "X-Faqbot-Token) to POST /channels/chatwoot; with chatwoot_webhook_secret also "
            "empty, the channel is off."),
    Setting("chatwoot_webhook_secret", "", "The agent bot's webhook secret in Chatwoot; "
            "when set, signed calls (X-Chatwoot-Signature) are checked, and unsigned ones "
            "need chatwoot_webhook_token."),
    Setting("chatwoot_attachments", "ask", "A Chatwoot message with only a photo, voice note "
            "or file: ask (the bot asks for it in words) or handoff (a private note, and the "
            "conversation opens for the team).", _attachment_reply),
    Setting("dialogflow_token", "", "Token Dialogflow ES fulfillment must send (Bearer, "
            "basic-auth password or X-Faqbot-Token); empty accepts unauthenticated calls."),
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    values: Mapping[str, Any]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    def replace(self, **changes: Any) -> Settings:
        merged = dict(self.values)
        for name, value in changes.items():
            merged[name] = _parse(name, value)
        return Settings(merged)

    @property
    def db_url(self) -> str:
        return self.values["db"] or f"sqlite:///{Path(self.values['data_dir']) / 'faqbot.db'}"


def _parse(name: str, value: Any) -> Any:
    setting = _BY_NAME.get(name)
    if setting is None:
        raise ValueError(f"unknown setting '{name}'")
    if value is None:
        return setting.default
    try:
        if isinstance(value, str) or setting.parse in (_list, _hours, _bool):
            return setting.parse(value)
        return setting.parse(str(value)) if setting.parse is not str else str(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"setting '{name}': {exc}") from None


def load_settings(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Defaults, then the YAML file, then FAQBOT_<NAME> environment variables."""
    values = {s.name: _parse(s.name, s.default) for s in SETTINGS}
    if path:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of settings")
        for name, value in data.items():
            values[name] = _parse(str(name).replace("-", "_"), value)
    environ = os.environ if environ is None else environ
    for setting in SETTINGS:
        key = f"FAQBOT_{setting.name.upper()}"
        if key in environ:
            values[setting.name] = _parse(setting.name, environ[key])
    return Settings(values)



# ------------------------------------------------------- one resolution for commands

# A settings file for every command, so a cron job or an administrator's shell
# reads the same file as the service without repeating --config.
CONFIG_ENV = "FAQBOT_CONFIG"

# Flags whose value names a setting, as `faqbot <command> --help` spells them.
_FLAG_NAMES = {"db": "--db", "corpus": "--corpus", "host": "--host", "port": "--port",
               "rate_limit": "--rate-limit", "sessions": "--sessions"}


def config_path(explicit: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The settings file: --config, else $FAQBOT_CONFIG, else none."""
    environ = os.environ if environ is None else environ
    return explicit or environ.get(CONFIG_ENV) or None


def resolve_settings(
    config: str | None = None,
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """What every command runs with: defaults, the settings file, FAQBOT_<NAME>, then flags.

    A flag left out (None) keeps the value from below it. A flag given an empty
    string is refused: `--db "$FAQBOT_DB"` with the variable unset would
    otherwise quietly mean "the default SQLite file".
    """
    environ = os.environ if environ is None else environ
    settings = load_settings(config_path(config, environ), environ)
    changes: dict[str, Any] = {}
    for name, value in (flags or {}).items():
        if value is None:
            continue
        if isinstance(value, str) and not value.strip():
            flag = _FLAG_NAMES.get(name, "--" + name.replace("_", "-"))
            raise ValueError(f"{flag} was given an empty value (is the variable it "
                             "came from set?)")
        changes[name] = value
    return settings.replace(**changes) if changes else settings


def settings_from_args(args: object, **flags: Any) -> Settings:
    """Settings for a parsed command line: its --config, --corpus and --db, plus `flags`."""
    merged = {"corpus": getattr(args, "corpus", None), "db": getattr(args, "db", None)}
    merged.update(flags)
    return resolve_settings(getattr(args, "config", None), merged)

