"""Staff console routes (placeholder until the console lands)."""

from __future__ import annotations

from aiohttp import web


def setup_staff(app: web.Application) -> None:
    return None
