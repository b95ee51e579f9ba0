"""Middlewares: a request id, JSON errors, protective headers on every
response, metrics and the access log. `create_app` installs them outermost
first."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from typing import Any

from aiohttp import web

from ..logs import REQUEST_ID
from .keys import METRICS, REPLICA, SETTINGS, Handler
from .requests import FieldTooLong, is_api, json_error

log = logging.getLogger("faqbot.access")

# An incoming X-Request-Id (from nginx's $request_id, or a caller) is kept when
# it looks like an id; anything else is replaced, so nothing a client sends
# lands in the logs unchecked.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; "
       "img-src 'self' data:; connect-src 'self'; frame-ancestors 'self'; "
       "base-uri 'none'; form-action 'self'")


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Sets `bot.logs.REQUEST_ID` for every log line of this request and returns
    the id in `X-Request-Id`, so a patient's complaint can be matched to the logs."""
    incoming = request.headers.get("X-Request-Id", "")
    request_id = incoming if _SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    token = REQUEST_ID.set(request_id)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers["X-Request-Id"] = request_id
        raise
    finally:
        REQUEST_ID.reset(token)
    if not response.prepared:
        response.headers["X-Request-Id"] = request_id
    return response


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error is JSON with a 4xx/5xx code; nothing leaks a traceback."""
    try:
        if not all(_utf8(value) for value in request.headers.values()):
            # aiohttp keeps undecodable header bytes as lone surrogates, which
            # no later .encode() (tokens, cookies, signatures) accepts.
            raise web.HTTPBadRequest(reason="a header value is not valid UTF-8")
        return await handler(request)
    except web.HTTPRequestEntityTooLarge as exc:
        return json_error(413, exc.reason if isinstance(exc, FieldTooLong) else
                          "request body too large")
    except web.HTTPException as exc:
        if exc.status < 400 or not is_api(request):
            raise
        headers = {k: v for k, v in exc.headers.items() if k in ("Retry-After", "Allow")}
        return json_error(exc.status, exc.reason or "error", headers=headers)
    except asyncio.CancelledError:
        raise
    except Exception:
        logging.getLogger("faqbot").exception("unhandled error on %s", request.path)
        return json_error(500, "internal error")


def _utf8(value: str) -> bool:
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@web.middleware
async def security_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    origin = request.headers.get("Origin")
    allowed = origin is not None and origin in settings.allowed_origins
    if request.method == "OPTIONS" and is_api(request):
        response: web.StreamResponse = web.Response(status=204 if allowed else 403)
    else:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            # Redirects and HTML errors get the same protective headers.
            _protect(request, exc.headers)
            raise
    if allowed and is_api(request):
        response.headers["Access-Control-Allow-Origin"] = origin or ""
        response.headers["Vary"] = "Origin"
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type, X-Session-Token"
        response.headers["Access-Control-Max-Age"] = "600"
    _protect(request, response.headers)
    return response


def _protect(request: web.Request, headers: Any) -> None:
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Content-Security-Policy", CSP)
    if request.path != "/demo":
        headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    metrics = request.app[METRICS]
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        elapsed = time.perf_counter() - started
        route = request.match_info.route.resource
        path = route.canonical if route is not None else "unmatched"
        metrics["requests"].labels(request.method, path, str(status)).inc()
        metrics["latency"].labels(path).observe(elapsed)
        # Structured access log: no message text, no IP address. The fields go
        # as `extra`, so the JSON log format has them as fields of their own.
        ms = round(elapsed * 1000, 2)
        log.info("%s %s %s %.2f ms", request.method, path, status, ms,
                 extra={"method": request.method, "path": path, "status": status, "ms": ms})


async def server_headers(request: web.Request, response: web.StreamResponse) -> None:
    """No software version on any response; the replica only when asked for."""
    response.headers["Server"] = "faqbot"
    if request.app[SETTINGS].replica_name:
        response.headers["X-Faqbot-Replica"] = request.app[REPLICA]


MIDDLEWARES = (request_id_middleware, security_middleware, errors_middleware,
               metrics_middleware)
