"""A bare aiohttp server: the floor our server is compared against.

POST /api/v1/messages reads and parses the JSON body like ours does, then
returns a fixed JSON object of --body-bytes bytes (the size of our replies).
No middlewares, no engine, no database, no access log.

    python bench/bare_server.py --port 8181 --body-bytes 900
"""

from __future__ import annotations

import argparse
import json

from aiohttp import web


def reply_body(size: int) -> bytes:
    base = {"type": "answer", "text": "", "faq_id": "bench", "confidence": 0.9,
            "suggestions": [], "sources": []}
    empty = len(json.dumps(base).encode())
    base["text"] = "x" * max(0, size - empty)
    return json.dumps(base).encode()


def make_app(size: int) -> web.Application:
    body = reply_body(size)

    async def post_message(request: web.Request) -> web.Response:
        data = json.loads(await request.read())
        if not isinstance(data, dict) or not data.get("text"):
            raise web.HTTPBadRequest()
        return web.Response(body=body, content_type="application/json")

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/api/v1/messages", post_message)
    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body-bytes", type=int, default=1000)
    args = parser.parse_args()
    web.run_app(make_app(args.body_bytes), host=args.host, port=args.port,
                print=None, access_log=None)


if __name__ == "__main__":
    main()
