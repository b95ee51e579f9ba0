"""The aiohttp application: routes, middlewares and shared state.

`create_app(settings, bot, store)` builds everything; nothing happens at
import time. Shared objects live on the app under typed `web.AppKey`s.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ..config import Settings
from ..corpus import load_corpus
from ..domain import Reply
from ..engine import Bot
from ..normalise import valid_text
from ..session_tokens import RESERVED_PREFIXES, SessionTokens, new_session_id
from ..spelling import is_english_word
from ..store import Store
from .notify import NOTIFIER, setup_notifier
from .openapi import OPENAPI
from .ratelimit import Limiter, RateLimiter, RedisRateLimiter
from .replylog import REPLY_LOG, setup_reply_log
from .tasks import running

STATIC = Path(__file__).resolve().parent / "static"
log = logging.getLogger("faqbot.access")

BOT = web.AppKey("bot", Bot)
STORE = web.AppKey("store", Store)
SETTINGS = web.AppKey("settings", Settings)
LIMITER = web.AppKey("limiter", Limiter)
TOKENS = web.AppKey("session_tokens", SessionTokens)
METRICS = web.AppKey("metrics", dict)
REPLICA = web.AppKey("replica", str)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FieldTooLong(web.HTTPRequestEntityTooLarge):
    """A field over its length limit, as opposed to a body over the size limit."""


def json_error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, "status": status}, status=status,
                             headers=extra.get("headers"))


# ----------------------------------------------------------------- middlewares


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error is JSON with a 4xx/5xx code; nothing leaks a traceback."""
    try:
        return await handler(request)
    except web.HTTPRequestEntityTooLarge as exc:
        return json_error(413, exc.reason if isinstance(exc, FieldTooLong) else
                          "request body too large")
    except web.HTTPException as exc:
        if exc.status < 400 or not _is_api(request):
            raise
        headers = {k: v for k, v in exc.headers.items() if k in ("Retry-After", "Allow")}
        return json_error(exc.status, exc.reason or "error", headers=headers)
    except asyncio.CancelledError:
        raise
    except Exception:
        logging.getLogger("faqbot").exception("unhandled error on %s", request.path)
        return json_error(500, "internal error")


@web.middleware
async def security_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    origin = request.headers.get("Origin")
    allowed = origin is not None and origin in settings.allowed_origins
    if request.method == "OPTIONS" and _is_api(request):
        response: web.StreamResponse = web.Response(status=204 if allowed else 403)
    else:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            # Redirects and HTML errors get the same protective headers.
            _protect(request, exc.headers)
            raise
    if allowed and _is_api(request):
        response.headers["Access-Control-Allow-Origin"] = origin or ""
        response.headers["Vary"] = "Origin"
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type, X-Session-Token"
        response.headers["Access-Control-Max-Age"] = "600"
    _protect(request, response.headers)
    return response


def _protect(request: web.Request, headers: Any) -> None:
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Content-Security-Policy",
                       "default-src 'self'; script-src 'self'; style-src 'self'; "
                       "img-src 'self' data:; connect-src 'self'; frame-ancestors 'self'; "
                       "base-uri 'none'; form-action 'self'")
    if request.path != "/demo":
        headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    metrics = request.app[METRICS]
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        elapsed = time.perf_counter() - started
        route = request.match_info.route.resource
        path = route.canonical if route is not None else "unmatched"
        metrics["requests"].labels(request.method, path, str(status)).inc()
        metrics["latency"].labels(path).observe(elapsed)
        # Structured access log: no message text, no IP address.
        log.info(json.dumps({"method": request.method, "path": path, "status": status,
                             "ms": round(elapsed * 1000, 2)}))


def _is_api(request: web.Request) -> bool:
    return request.path.startswith(("/api/", "/webhooks/", "/channels/"))


# -------------------------------------------------------------------- helpers


async def read_json(request: web.Request) -> dict[str, Any]:
    # JSON only: a cross-origin page can send text/plain or a form without
    # asking the browser's permission (a "simple" request), never JSON.
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(reason="send Content-Type: application/json")
    return parse_json_object(await request.read())


MAX_JSON_DEPTH = 32


def _json_depth(raw: bytes) -> int:
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
    if _json_depth(raw) > MAX_JSON_DEPTH:
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


def message_text(request: web.Request, data: dict[str, Any], name: str) -> str:
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
        check_rate(request)
    return text


def client_address(request: web.Request) -> str:
    client = request.remote or "unknown"
    if request.app[SETTINGS].trust_forwarded:
        # The address our own proxy saw: the last hop it appended, not a client's claim.
        forwarded = request.headers.get("X-Forwarded-For", "").rsplit(",", 1)[-1].strip()
        client = forwarded or client
    return client


def check_rate(request: web.Request) -> None:
    limiter = request.app[LIMITER]
    wait = limiter.hit(client_address(request))
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


def owns_session(request: web.Request, session_id: str | None, presented: Any) -> bool:
    """Whether this client may hold the session's token: it is a new session
    (first reply), or the client already presented the token."""
    if session_id is None:
        return True
    if isinstance(presented, str) and request.app[TOKENS].verify(session_id, presented):
        return True
    if request.app[BOT].knows(session_id):
        return False
    try:
        return not request.app[STORE].session_seen(session_id)
    except Exception:
        log.exception("store unavailable; a session with no memory is treated as new")
        return True


def client_session(data: dict[str, Any], name: str) -> str | None:
    """A session id the client chose; the channels' own ids are not choosable."""
    session_id = session_field(data, name)
    if session_id and session_id.startswith(RESERVED_PREFIXES):
        raise web.HTTPBadRequest(reason=f"'{name}' may not start with a channel prefix")
    return session_id


def presented_token(request: web.Request, data: dict[str, Any]) -> Any:
    return request.headers.get("X-Session-Token") or data.get("session_token")


async def answer(request: web.Request, text: str, session_id: str | None) -> Reply:
    """The one path from a channel to the engine and back, shared by every channel."""
    app = request.app
    reply = app[BOT].reply(text, session_id)
    app[REPLY_LOG].add(reply.type, reply.faq_id, reply.corpus_version)
    app[METRICS]["replies"].labels(reply.type).inc()
    if reply.ticket_id and reply.type in ("handoff", "emergency", "urgent"):
        app[NOTIFIER].ticket_opened(reply.ticket_id, reply.type, reply.procedure)
    return reply


# ---------------------------------------------------------------------- routes


async def post_message(request: web.Request) -> web.Response:
    data = await read_json(request)
    text = message_text(request, data, "text")
    session_id = client_session(data, "session_id")
    owner = owns_session(request, session_id, presented_token(request, data))
    session_id = session_id or new_session_id()
    reply = await answer(request, text, session_id)
    token = request.app[TOKENS].issue(session_id) if owner else ""
    return web.json_response(replace(reply, session_token=token).to_json())


async def post_feedback(request: web.Request) -> web.Response:
    check_rate(request)
    data = await read_json(request)
    session_id = session_field(data, "session_id")
    if not session_id:
        raise web.HTTPBadRequest(reason="'session_id' is required")
    helpful = data.get("helpful")
    if not isinstance(helpful, bool):
        raise web.HTTPBadRequest(reason="'helpful' must be true or false")
    faq_id = data.get("faq_id")
    if faq_id is not None and (not isinstance(faq_id, str) or len(faq_id) > 128):
        raise web.HTTPBadRequest(reason="'faq_id' must be a string")
    comment = text_field(data, "comment", request.app[SETTINGS], required=False)
    from ..redact import redact

    ticket = request.app[STORE].add_feedback(session_id, faq_id, helpful,
                                             redact(comment) if comment else None)
    return web.json_response({"ok": True, "ticket_id": ticket})


async def get_staff_messages(request: web.Request) -> web.Response:
    check_rate(request)
    session_id = request.match_info["session_id"]
    if not request.app[TOKENS].verify(session_id, request.headers.get("X-Session-Token")):
        raise web.HTTPUnauthorized(reason="this session's token is required in X-Session-Token")
    after_raw = request.query.get("after", "0")
    if not (after_raw.isascii() and after_raw.isdigit()) or len(after_raw) > 12:
        raise web.HTTPBadRequest(reason="'after' must be a whole number")
    messages = request.app[STORE].staff_messages_for(session_id, int(after_raw))
    return web.json_response({"messages": messages})


async def post_rasa(request: web.Request) -> web.Response:
    body = await request.read()
    check_signature(request, body)
    data = await read_json(request)
    text = message_text(request, data, "message")
    # Without a sender every such client would share one session: each gets its own.
    chosen = session_field(data, "sender")
    owner = owns_session(request, chosen, presented_token(request, data))
    sender = chosen or "rasa-" + new_session_id()
    reply = await answer(request, text, sender)
    buttons = [{"title": s.question, "payload": s.question} for s in reply.suggestions]
    messages: list[dict[str, Any]] = []
    if reply.disclaimer:
        messages.append({"recipient_id": sender, "text": reply.disclaimer})
    main: dict[str, Any] = {"recipient_id": sender, "text": reply.text}
    if buttons:
        main["buttons"] = buttons
    main["custom"] = {"type": reply.type, "faq_id": reply.faq_id, "ticket_id": reply.ticket_id,
                      "session_token": request.app[TOKENS].issue(sender) if owner else ""}
    messages.append(main)
    return web.json_response(messages)


async def get_rasa_status(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def healthz(request: web.Request) -> web.Response:
    bot = request.app[BOT]
    return web.json_response({"status": "ok", "entries": len(bot.corpus.entries),
                              "corpus_version": bot.corpus.version})


async def metrics(request: web.Request) -> web.Response:
    token = request.app[SETTINGS].metrics_token
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise web.HTTPUnauthorized(reason="metrics need the bearer token",
                                       headers={"WWW-Authenticate": "Bearer"})
    elif request.remote not in ("127.0.0.1", "::1"):
        # No token set: scrapers on this machine only.
        raise web.HTTPForbidden(reason="set metrics_token to scrape from elsewhere")
    registry = request.app[METRICS]["registry"]
    return web.Response(body=generate_latest(registry),
                        headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(OPENAPI)


def _static_file(name: str, content_type: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        path = STATIC / name
        if not path.exists():
            raise web.HTTPNotFound()
        response = web.FileResponse(path, headers={"Content-Type": content_type})
        if name == "widget.js":
            # The widget is loaded by other sites' pages.
            response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
        return response

    return handler


def _make_metrics() -> dict[str, Any]:
    registry = CollectorRegistry()
    return {
        "registry": registry,
        "requests": Counter("faqbot_http_requests", "HTTP requests",
                            ["method", "route", "status"], registry=registry),
        "latency": Histogram("faqbot_http_request_seconds", "HTTP request latency",
                             ["route"], registry=registry,
                             buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)),
        "replies": Counter("faqbot_replies", "Replies by type (fallback and emergency "
                           "included)", ["type"], registry=registry),
    }


# ------------------------------------------------------------- corpus sync


async def sync_corpus_once(app: web.Application, last_seen: str | None) -> str | None:
    """Reload the corpus from disk if another replica recorded a new version.

    Returns the recorded version now seen. Loading and indexing run in a thread;
    `Bot.load_corpus` swaps the index whole, so requests go on meanwhile.
    """
    store, bot, settings = app[STORE], app[BOT], app[SETTINGS]
    recorded = await asyncio.to_thread(store.corpus_version)
    if recorded is None or recorded == last_seen:
        return last_seen
    if recorded != bot.corpus.version:
        corpus = await asyncio.to_thread(load_corpus, settings.corpus)
        if corpus.version != bot.corpus.version:
            await asyncio.to_thread(bot.load_corpus, corpus)
            logging.getLogger("faqbot").info(
                "corpus reloaded: %s (recorded %s)", corpus.version, recorded)
        if corpus.version != recorded:
            logging.getLogger("faqbot").warning(
                "corpus on disk is %s but %s was taught; do the replicas share one "
                "corpus directory?", corpus.version, recorded)
    return recorded


async def _corpus_poller(app: web.Application) -> AsyncIterator[None]:
    interval = app[SETTINGS].corpus_poll_seconds
    if interval <= 0:
        yield
        return

    async def loop() -> None:
        try:
            last_seen = await asyncio.to_thread(app[STORE].corpus_version)
        except Exception:
            last_seen = None
        while True:
            await asyncio.sleep(interval)
            try:
                last_seen = await sync_corpus_once(app, last_seen)
            except asyncio.CancelledError:
                raise
            except Exception:  # a database blip must not end the poller
                logging.getLogger("faqbot").exception("corpus poll failed")

    async with running(loop()):
        yield


class SeenSignatures:
    """Signatures already accepted, kept for their five minutes of freshness,
    so a captured signed request cannot be replayed."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def first_use(self, signature: str, stamp: int) -> bool:
        now = int(time.time())
        if len(self._seen) > 10_000:
            self._seen = {s: t for s, t in self._seen.items() if now - t <= 300}
        if signature in self._seen:
            return False
        self._seen[signature] = stamp
        return True


NONCES = web.AppKey("signature_nonces", SeenSignatures)


async def _server_headers(request: web.Request, response: web.StreamResponse) -> None:
    """No software version on any response; the replica only when asked for."""
    response.headers["Server"] = "faqbot"
    if request.app[SETTINGS].replica_name:
        response.headers["X-Faqbot-Replica"] = request.app[REPLICA]


def create_app(settings: Settings, bot: Bot, store: Store,
               limiter: RateLimiter | RedisRateLimiter | None = None) -> web.Application:
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        # Outermost first: protective headers go on every response, errors included.
        middlewares=[security_middleware, errors_middleware, metrics_middleware],
    )
    app[SETTINGS] = settings
    app[BOT] = bot
    app[STORE] = store
    app[LIMITER] = limiter or RateLimiter(settings.rate_limit)
    app[TOKENS] = SessionTokens.from_settings(settings.session_secret, settings.data_dir)
    app[REPLICA] = settings.replica_name or f"{socket.gethostname()}:{settings.port}"
    app.cleanup_ctx.append(_corpus_poller)
    app.on_response_prepare.append(_server_headers)
    app[NONCES] = SeenSignatures()
    app[METRICS] = _make_metrics()
    setup_notifier(app, settings.notify_url, store)
    setup_reply_log(app, store)
    app.router.add_post("/api/v1/messages", post_message)
    app.router.add_post("/api/v1/feedback", post_feedback)
    app.router.add_get("/api/v1/sessions/{session_id}/messages", get_staff_messages)
    app.router.add_post("/webhooks/rest/webhook", post_rasa)
    app.router.add_get("/webhooks/rest/", get_rasa_status)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/openapi.json", openapi)
    app.router.add_get("/", _static_file("index.html", "text/html; charset=utf-8"))
    app.router.add_get("/chat", _static_file("index.html", "text/html; charset=utf-8"))
    app.router.add_get("/demo", _static_file("demo.html", "text/html; charset=utf-8"))
    app.router.add_get("/widget.js", _static_file("widget.js", "text/javascript; charset=utf-8"))
    app.router.add_static("/static/", STATIC)
    from .channels import setup_channels
    from .staff import setup_staff

    setup_channels(app)
    setup_staff(app)
    return app


def run(settings: Settings, sessions_url: str | None = None) -> None:
    from ..assembly import build_bot
    from ..sessions import RedisSessionStore, redis_client

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sessions_url = sessions_url or settings.sessions
    store = Store(settings.db_url)
    if sessions_url.startswith(("redis://", "rediss://", "unix://")):
        client = redis_client(sessions_url)
        client.ping()  # fail at start-up, not on the first patient
        sessions = RedisSessionStore(client, settings.session_ttl, settings.redis_prefix)
        limiter: RateLimiter | RedisRateLimiter = RedisRateLimiter(
            settings.rate_limit, client, settings.redis_prefix)
    elif sessions_url == "memory":
        sessions, limiter = None, RateLimiter(settings.rate_limit)
    else:
        raise ValueError(f"sessions must be memory or redis://..., got {sessions_url!r}")
    bot = build_bot(settings, tickets=store, sessions=sessions)
    app = create_app(settings, bot, store, limiter)
    # The English word list behind typo correction takes about half a second
    # to load. Load it once the index is built (not beside it: they would share
    # one interpreter lock), while the server starts, so no patient waits for it.
    threading.Thread(target=is_english_word, args=("warm",), daemon=True).start()
    base = f"http://{settings.host}:{settings.port}"
    print(f"faqbot ready: {len(bot.corpus.entries)} entries, corpus {bot.corpus.version}, "
          f"replica {app[REPLICA]}\n"
          f"  chat page:     {base}/\n  staff console: {base}/staff\n"
          f"  API:           POST {base}/api/v1/messages", flush=True)
    # aiohttp finishes in-flight requests on SIGTERM/SIGINT within shutdown_timeout.
    web.run_app(app, host=settings.host, port=settings.port, shutdown_timeout=10,
                print=None, access_log=None)
    store.close()
