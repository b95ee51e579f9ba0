"""The web layer's public entry points, for the CLI, tests and integrators:
`create_app(settings, bot, store, limiter=None)` and `run(settings)`.

Only a facade: the app is assembled in `factory.py` and served by
`server.py`. Nothing inside `bot/web/` imports this module.
"""

from __future__ import annotations

from .factory import create_app
from .server import run

__all__ = ["create_app", "run"]
