"""`run(settings)`: build the store, the session store, the bot and the app,
then serve until SIGTERM or SIGINT (`faqbot serve`).

Degraded modes: Redis that refuses or hangs costs a request at most a short
timeout, then sessions, rate limits and webhook nonces are kept in this
process until it answers again; a database that is down does not hold up a
reply, its tickets wait in a spool under data_dir (see `bot.outbox`).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from aiohttp import web

from ..assembly import build_bot
from ..config import Settings
from ..outbox import SpooledTickets
from ..sessions import (
    Breaker,
    FallbackSessions,
    MemorySessionStore,
    RedisSessionStore,
    SessionStore,
    redis_client,
)
from ..spelling import is_english_word
from ..store import Store, mask_url
from .factory import create_app
from .keys import REPLICA
from .ratelimit import RateLimiter, RedisRateLimiter
from .signatures import RedisNonces, SignatureNonces

log = logging.getLogger("faqbot")

# PostgreSQL: a server that does not answer fails a new connection after this
# many seconds (libpq's connect_timeout) instead of the system's minutes.
CONNECT_TIMEOUT = 3


def database_url(url: str) -> str:
    """The store URL with a connect timeout, unless the URL sets one."""
    if url.startswith("postgresql") and "connect_timeout=" not in url:
        return url + ("&" if "?" in url else "?") + f"connect_timeout={CONNECT_TIMEOUT}"
    return url


def run(settings: Settings, sessions_url: str | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sessions_url = sessions_url or settings.sessions
    store = Store(database_url(settings.db_url))
    sessions: SessionStore | None = None
    nonces: SignatureNonces | None = None
    if sessions_url.startswith(("redis://", "rediss://", "unix://")):
        client = redis_client(sessions_url)
        try:
            client.ping()
        except Exception as exc:
            # Start anyway: patients are answered with in-process sessions until
            # Redis answers (/readyz says 503 meanwhile).
            log.warning("Redis at %s does not answer (%s); starting with in-process "
                        "sessions, rate limits and webhook nonces until it does",
                        mask_url(sessions_url), type(exc).__name__)
        # One breaker for the one Redis: an outage costs one timeout per cooldown
        # for the whole replica, not one per component.
        breaker = Breaker("Redis")
        sessions = FallbackSessions(
            RedisSessionStore(client, settings.session_ttl, settings.redis_prefix),
            MemorySessionStore(settings.session_ttl, settings.max_sessions), breaker)
        limiter: RateLimiter | RedisRateLimiter = RedisRateLimiter(
            settings.rate_limit, client, settings.redis_prefix, breaker)
        nonces = RedisNonces(client, settings.redis_prefix, breaker)
    elif sessions_url == "memory":
        limiter = RateLimiter(settings.rate_limit)
    else:
        raise ValueError(f"sessions must be memory or redis://..., got {sessions_url!r}")
    # A database server can be down or hang: its tickets wait in a local spool
    # then. A SQLite file is local already (the spool would share its disk).
    tickets = SpooledTickets(store, Path(settings.data_dir) / "spool" / "tickets.sqlite") \
        if not settings.db_url.startswith("sqlite") else None
    bot = build_bot(settings, tickets=tickets or store, sessions=sessions)
    app = create_app(settings, bot, store, limiter, nonces)
    # The English word list behind typo correction takes about half a second
    # to load. Load it once the index is built (not beside it: they would share
    # one interpreter lock), while the server starts, so no patient waits for it.
    threading.Thread(target=is_english_word, args=("warm",), daemon=True).start()
    base = f"http://{settings.host}:{settings.port}"
    print(f"faqbot ready: {len(bot.corpus.entries)} entries, corpus {bot.corpus.version}, "
          f"replica {app[REPLICA]}\n"
          f"  chat page:     {base}/\n  staff console: {base}/staff\n"
          f"  API:           POST {base}/api/v1/messages", flush=True)
    try:
        # aiohttp finishes in-flight requests on SIGTERM/SIGINT within shutdown_timeout.
        web.run_app(app, host=settings.host, port=settings.port, shutdown_timeout=10,
                    print=None, access_log=None)
    finally:
        if tickets is not None:
            tickets.close()
        store.close()
