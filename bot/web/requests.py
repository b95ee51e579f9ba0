"""Reading and checking what a client sent: JSON bodies, fields, the rate
limit, webhook signatures and who may hold a session's token.

Every problem becomes a 4xx `web.HTTPException` with a reason, which
`errors_middleware` turns into the JSON error body.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from typing import Any

from aiohttp import web

from ..config import Settings
from ..logs import Throttled
from ..normalise import valid_text
from ..session_tokens import RESERVED_PREFIXES
from .keys import BOT, LIMITER, NONCES, SETTINGS, STORE, TOKENS

log = logging.getLogger("faqbot.access")
_store_down = Throttled(logging.getLogger("faqbot.degraded"))
MAX_JSON_DEPTH = 32
STORE_WAIT = 0.5  # seconds a patient's request waits on the database for a session check


class FieldTooLong(web.HTTPRequestEntityTooLarge):
    """A field over its length limit, as opposed to a body over the size limit."""


def json_error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, "status": status}, status=status,
                             headers=extra.get("headers"))


def is_api(request: web.Request) -> bool:
    return request.path.startswith(("/api/", "/webhooks/", "/channels/"))


async def read_json(request: web.Request) -> dict[str, Any]:
    # JSON only: a cross-origin page can send text/plain or a form without
    # asking the browser's permission (a "simple" request), never JSON.
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(reason="send Content-Type: application/json")
    return parse_json_object(await request.read())


def json_depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects, strings skipped, without parsing."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, or a 400 saying what is wrong with it."""
    if not raw:
        raise web.HTTPBadRequest(reason="empty body; send a JSON object")
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise web.HTTPBadRequest(reason=f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(reason="malformed JSON") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(reason="expected a JSON object")
    return data


def text_field(data: dict[str, Any], name: str, settings: Settings, *, required: bool) -> str:
    value = data.get(name)
    if value is None:
        if required:
            raise web.HTTPBadRequest(reason=f"'{name}' is required")
        return ""
    if not isinstance(value, str):
        raise web.HTTPBadRequest(reason=f"'{name}' must be a string")
    value = valid_text(value)
    if required and not value.strip():
        raise web.HTTPBadRequest(reason=f"'{name}' must not be empty")
    if len(value) > settings.max_message_chars:
        raise FieldTooLong(
            max_size=settings.max_message_chars, actual_size=len(value),
            reason=f"'{name}' is longer than {settings.max_message_chars} characters")
    return value


def session_field(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= 128 or not value.isprintable():
        raise web.HTTPBadRequest(reason=f"'{name}' must be a string of 1 to 128 characters")
    return value


async def message_text(request: web.Request, data: dict[str, Any], name: str) -> str:
    """The patient's message, checked; the rate limit applies unless it is a red flag.

    Neither the rate limit nor the length limit may stand between a patient
    and the emergency reply: an over-long message that reports a red flag is
    answered from its first and last part, which is where the limit would cut.
    """
    settings = request.app[SETTINGS]
    try:
        text = text_field(data, name, settings, required=True)
    except FieldTooLong:
        raw = valid_text(data[name])
        limit = settings.max_message_chars
        for part in (raw[:limit], raw[-limit:]):
            if request.app[BOT].check_red_flags(part):
                return part
        raise
    if not request.app[BOT].check_red_flags(text):
        session = data.get("session_id", data.get("sender"))
        await check_rate(request, session if isinstance(session, str) else None)
    return text


def client_address(request: web.Request) -> str:
    client = request.remote or "unknown"
    if request.app[SETTINGS].trust_forwarded:
        # The address our own proxy saw: the last hop it appended, not a client's claim.
        forwarded = request.headers.get("X-Forwarded-For", "").rsplit(",", 1)[-1].strip()
        client = forwarded or client
    return client


async def check_rate(request: web.Request, session_id: str | None = None) -> None:
    """Count a request per client address (`rate_limit_address`, a high ceiling:
    many patients may share one address behind NAT) and, when it names one, per
    conversation (`rate_limit`); a 429 if either is spent. `rate_limit` 0 turns
    both off."""
    settings = request.app[SETTINGS]
    if settings.rate_limit <= 0:
        return
    budgets = []
    if settings.rate_limit_address > 0:
        # Never below the per-conversation limit: `--rate-limit N` for a load
        # test from one address raises both.
        per_address = max(settings.rate_limit_address, settings.rate_limit)
        budgets.append(("addr:" + client_address(request), per_address))
    if session_id and len(session_id) <= 128:
        budgets.append(("session:" + session_id, settings.rate_limit))
    limiter = request.app[LIMITER]

    def hit_all() -> int:
        return max([limiter.hit(key, limit) for key, limit in budgets], default=0)

    # A shared (Redis) counter is a network call: off the loop.
    wait = await asyncio.to_thread(hit_all) if limiter.remote else hit_all()
    if wait:
        raise web.HTTPTooManyRequests(
            reason="too many messages; please wait", headers={"Retry-After": str(wait)})


def check_signature(request: web.Request, body: bytes) -> None:
    """Optional HMAC-SHA256 over "<timestamp>.<raw body>", five minutes' freshness."""
    secret = request.app[SETTINGS].webhook_secret
    if not secret:
        return
    signature = request.headers.get("X-Faqbot-Signature", "").removeprefix("sha256=")
    stamp = request.headers.get("X-Faqbot-Timestamp", "")
    if not (stamp.isascii() and stamp.isdigit()) or len(stamp) > 12 or abs(
            time.time() - int(stamp)) > 300:
        raise web.HTTPUnauthorized(reason="missing or stale X-Faqbot-Timestamp")
    expected = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        raise web.HTTPUnauthorized(reason="bad X-Faqbot-Signature")
    if not request.app[NONCES].first_use(expected, int(stamp)):
        raise web.HTTPConflict(reason="this signed request was already received")


async def owns_session(request: web.Request, session_id: str | None, presented: Any) -> bool:
    """Whether this client may hold the session's token: it is a new session
    (first reply), or the client already presented the token."""
    if session_id is None:
        return True
    if isinstance(presented, str) and request.app[TOKENS].verify(session_id, presented):
        return True
    bot, store = request.app[BOT], request.app[STORE]
    # The session store may be Redis and the ticket store a database: both off the loop.
    if await asyncio.to_thread(bot.knows, session_id):
        return False
    try:
        seen = await asyncio.wait_for(asyncio.to_thread(store.session_seen, session_id),
                                      STORE_WAIT)
    except Exception as exc:  # the database down or hanging: no 500, no traceback flood
        _store_down.warning("store unavailable (%s); a session with no memory is treated "
                            "as new", type(exc).__name__)
        return True
    return not seen


def client_session(data: dict[str, Any], name: str) -> str | None:
    """A session id the client chose; the channels' own ids are not choosable."""
    session_id = session_field(data, name)
    if session_id and session_id.startswith(RESERVED_PREFIXES):
        raise web.HTTPBadRequest(reason=f"'{name}' may not start with a channel prefix")
    return session_id


def presented_token(request: web.Request, data: dict[str, Any]) -> Any:
    return request.headers.get("X-Session-Token") or data.get("session_token")
