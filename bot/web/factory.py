"""`create_app(settings, bot, store)`: the app, its shared state and its routes.

Nothing happens at import time. Shared objects live on the app under the
typed keys of `keys.py`; each resource with a lifetime (the engine's thread,
the corpus poller, the notifier, the reply log, Chatwoot's client) has its
own `cleanup_ctx`.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa
from aiohttp import web

from ..config import Settings
from ..engine import Bot
from ..outbox import SpooledTickets
from ..session_tokens import SessionTokens
from ..store import Store
from ..teaching import Teaching
from .api import setup_api
from .callbacks import setup_callbacks
from .channels import setup_channels
from .keys import (
    BOT,
    ENGINE,
    LIMITER,
    METRICS,
    NONCES,
    READINESS,
    REPLICA,
    SETTINGS,
    STORE,
    TEACHING,
    TOKENS,
)
from .metrics import get_metrics, make_metrics
from .middlewares import MIDDLEWARES, server_headers
from .notify import setup_notifier
from .poller import corpus_poller
from .ratelimit import RateLimiter, RedisRateLimiter
from .replylog import setup_reply_log
from .signatures import SeenSignatures, SignatureNonces
from .staff import setup_staff


async def engine_thread(app: web.Application) -> AsyncIterator[None]:
    app[ENGINE] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="faqbot-engine")
    try:
        yield
    finally:
        app[ENGINE].shutdown(wait=True)


async def spool_replayer(app: web.Application) -> AsyncIterator[None]:
    """Tickets spooled while the database was down go in as soon as it answers."""
    tickets = app[BOT].tickets
    if isinstance(tickets, SpooledTickets):
        tickets.start()
    yield


def readiness_checks(bot: Bot, store: Store, *remotes: object) -> dict[str, Callable[[], None]]:
    """/readyz's checks: the index is loaded, the store and Redis (when used) answer."""
    def index() -> None:
        if not bot.corpus.entries:
            raise RuntimeError("the index is empty")

    def database() -> None:
        with store.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    checks: dict[str, Callable[[], None]] = {"index": index, "store": database}
    for remote in remotes:
        redis = getattr(remote, "redis", None)
        if redis is not None:
            checks["redis"] = redis.ping
            break
    return checks


def create_app(settings: Settings, bot: Bot, store: Store,
               limiter: RateLimiter | RedisRateLimiter | None = None,
               nonces: SignatureNonces | None = None) -> web.Application:
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        # Outermost first: protective headers go on every response, errors included.
        middlewares=MIDDLEWARES,
    )
    app[SETTINGS] = settings
    app[BOT] = bot
    app[STORE] = store
    app[LIMITER] = limiter or RateLimiter(settings.rate_limit)
    app[TOKENS] = SessionTokens.from_settings(settings.session_secret, settings.data_dir)
    app[REPLICA] = settings.replica_name or f"{socket.gethostname()}:{settings.port}"
    app[NONCES] = nonces or SeenSignatures()
    app[READINESS] = readiness_checks(bot, store, app[NONCES], app[LIMITER])
    app[METRICS] = make_metrics()
    app[TEACHING] = Teaching(bot, store, settings.corpus)
    app.cleanup_ctx.append(engine_thread)
    app.cleanup_ctx.append(corpus_poller)
    app.cleanup_ctx.append(spool_replayer)
    app.on_response_prepare.append(server_headers)
    setup_notifier(app, settings.notify_url, store)
    setup_reply_log(app, store)
    setup_api(app)
    setup_callbacks(app)
    app.router.add_get("/metrics", get_metrics)
    setup_channels(app)
    setup_staff(app)
    return app
