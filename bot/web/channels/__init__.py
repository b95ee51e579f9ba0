"""Channel adapters: thin translators between a channel's payloads and the
shared engine path (`bot/web/replies.py`).

`setup_channels(app)` registers them all on an app built by `create_app`:
the Rasa REST channel (`/webhooks/rest/`), the Chatwoot agent bot
(`/channels/chatwoot`) and Dialogflow ES fulfillment (`/channels/dialogflow`).
"""

from __future__ import annotations

from aiohttp import web

from .chatwoot import CHATWOOT, setup_chatwoot, wait_for_deliveries
from .dialogflow import setup_dialogflow
from .rasa import setup_rasa


def setup_channels(app: web.Application) -> None:
    setup_rasa(app)
    setup_chatwoot(app)
    setup_dialogflow(app)


__all__ = ["CHATWOOT", "setup_channels", "wait_for_deliveries"]
