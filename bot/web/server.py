"""`run(settings)`: build the store, the session store, the bot and the app,
then serve until SIGTERM or SIGINT (`faqbot serve`)."""

from __future__ import annotations

import logging
import threading

from aiohttp import web

from ..assembly import build_bot
from ..config import Settings
from ..sessions import FallbackSessions, MemorySessionStore, RedisSessionStore, redis_client
from ..spelling import is_english_word
from ..store import Store
from .factory import create_app
from .keys import REPLICA
from .ratelimit import RateLimiter, RedisRateLimiter
from .signatures import RedisNonces, SignatureNonces


def run(settings: Settings, sessions_url: str | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sessions_url = sessions_url or settings.sessions
    store = Store(settings.db_url)
    if sessions_url.startswith(("redis://", "rediss://", "unix://")):
        client = redis_client(sessions_url)
        client.ping()  # fail at start-up, not on the first patient
        # Redis refusing or hanging later: conversations, rate limits and webhook
        # nonces are kept in this process until it answers again.
        sessions = FallbackSessions(
            RedisSessionStore(client, settings.session_ttl, settings.redis_prefix),
            MemorySessionStore(settings.session_ttl, settings.max_sessions))
        limiter: RateLimiter | RedisRateLimiter = RedisRateLimiter(
            settings.rate_limit, client, settings.redis_prefix)
        nonces: SignatureNonces | None = RedisNonces(client, settings.redis_prefix)
    elif sessions_url == "memory":
        sessions, limiter, nonces = None, RateLimiter(settings.rate_limit), None
    else:
        raise ValueError(f"sessions must be memory or redis://..., got {sessions_url!r}")
    bot = build_bot(settings, tickets=store, sessions=sessions)
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
    # aiohttp finishes in-flight requests on SIGTERM/SIGINT within shutdown_timeout.
    web.run_app(app, host=settings.host, port=settings.port, shutdown_timeout=10,
                print=None, access_log=None)
    store.close()
