"""The app's shared state: one typed `web.AppKey` per object every part may read.

Set once by `create_app` (bot/web/factory.py). A component's private state
(the notifier, the reply log, Chatwoot's client, the staff signer) keeps its
key beside its code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from ..config import Settings
from ..engine import Bot
from ..session_tokens import SessionTokens
from ..store import Store
from ..teaching import Teaching
from .ratelimit import Limiter
from .signatures import SignatureNonces

BOT = web.AppKey("bot", Bot)
STORE = web.AppKey("store", Store)
SETTINGS = web.AppKey("settings", Settings)
LIMITER = web.AppKey("limiter", Limiter)
TOKENS = web.AppKey("session_tokens", SessionTokens)
METRICS = web.AppKey("metrics", dict)
REPLICA = web.AppKey("replica", str)
NONCES = web.AppKey("signature_nonces", SignatureNonces)
TEACHING = web.AppKey("teaching", Teaching)
# What /readyz checks: a name per dependency and a call that raises if it is
# unreachable (run in a thread, with a short timeout).
READINESS = web.AppKey("readiness", dict)
# The engine's own thread: replies run one at a time, in arrival order, as they
# did on the event loop, but the loop stays free for every other request.
ENGINE = web.AppKey("engine_thread", ThreadPoolExecutor)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
