"""The channels' shared pieces: the reply renderer and the retry helper."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from bot.domain import Reply, Suggestion
from bot.web.replies import Bubble, bubbles
from bot.web.retry import Undeliverable, doubling, post_json


def test_a_first_reply_is_its_disclaimer_then_its_text_with_options() -> None:
    reply = Reply("s", "clarify", "Which one?", disclaimer="I am a bot.",
                  suggestions=(Suggestion("a", "Question A?"), Suggestion("b", "Question B?")))
    assert bubbles(reply) == [Bubble("I am a bot.", what="disclaimer"),
                              Bubble("Which one?", ("Question A?", "Question B?"))]
    assert bubbles(reply)[1].listed() == "Which one?\n- Question A?\n- Question B?"
    assert bubbles(Reply("s", "answer", "Yes.")) == [Bubble("Yes.")]


def test_backoff_doubles() -> None:
    assert doubling(0.2, 4) == (0.2, 0.4, 0.8)
    assert doubling(1.0, 1) == ()


async def _service(aiohttp_server, statuses: list[int]):  # type: ignore[no-untyped-def]
    calls: list[object] = []

    async def hook(request: web.Request) -> web.Response:
        calls.append(await request.json())
        return web.Response(status=statuses[min(len(calls), len(statuses)) - 1])

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = await aiohttp_server(app)
    return str(server.make_url("/hook")), calls


async def test_failures_are_retried_until_one_succeeds(aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    url, calls = await _service(aiohttp_server, [500, 429, 200])
    async with aiohttp.ClientSession() as http:
        await post_json(http, url, {"n": 1}, delays=(0.01, 0.01, 0.01))
    assert calls == [{"n": 1}] * 3


async def test_a_refusal_is_final_unless_asked_to_retry(aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    url, calls = await _service(aiohttp_server, [401])
    async with aiohttp.ClientSession() as http:
        with pytest.raises(Undeliverable, match="HTTP 401 after 1 try"):
            await post_json(http, url, {}, delays=(0.01, 0.01), retry_refusals=False)
        assert len(calls) == 1
        with pytest.raises(Undeliverable, match="HTTP 401 after 3 tries") as failed:
            await post_json(http, url, {}, delays=(0.01, 0.01))
    assert failed.value.tries == 3 and failed.value.error == "HTTP 401"
