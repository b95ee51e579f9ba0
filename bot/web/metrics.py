"""Prometheus metrics: the registry kept on the app and `GET /metrics`."""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from .keys import METRICS, SETTINGS


def make_metrics() -> dict[str, Any]:
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


async def get_metrics(request: web.Request) -> web.Response:
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
