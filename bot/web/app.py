"""The web layer's public entry point for tests and integrators:
`create_app(settings, bot, store, limiter=None, nonces=None)`.

Only a facade: the app is assembled in `factory.py`; `faqbot serve` starts
it through `server.run`. Nothing inside `bot/web/` imports this module.
"""

from __future__ import annotations

from .factory import create_app

__all__ = ["create_app"]
