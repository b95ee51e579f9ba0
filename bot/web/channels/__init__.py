"""Channel adapters beyond the JSON API and the Rasa REST channel.

`setup_channels(app)` registers them all on an app built by `create_app`:
the Chatwoot agent bot (`/channels/chatwoot`) and Dialogflow ES fulfillment
(`/channels/dialogflow`).
"""

from __future__ import annotations

from aiohttp import web

from .chatwoot import CHATWOOT, setup_chatwoot, wait_for_deliveries
from .dialogflow import setup_dialogflow


def setup_channels(app: web.Application) -> None:
    setup_chatwoot(app)
    setup_dialogflow(app)


__all__ = ["CHATWOOT", "setup_channels", "wait_for_deliveries"]
