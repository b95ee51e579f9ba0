"""Nothing blocks the event loop: while a large corpus is indexed in the
background through the real reload path (the poller's `Teaching.sync`, as
after another replica's teaching), `/healthz` and a patient's reply keep
answering quickly.

Bounds are generous because two shared cores make single requests noisy: the
loop, the engine's thread and the indexing thread share one interpreter lock,
and a reply alone takes tens of milliseconds on a busy machine. A reload on
the event loop (what teaching used to do) fails every bound here: each
request waits for the whole rebuild, seconds."""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
from pathlib import Path

from bot.assembly import build_bot
from bot.config import load_settings
from bot.corpus import entry_to_json, load_corpus
from bot.store import Store
from bot.web.app import create_app
from bot.web.keys import BOT, SETTINGS
from bot.web.poller import sync_corpus_once

ENTRIES = 2000
# Median milliseconds while the index is rebuilt, per request kind: the
# issue's 100 ms for /healthz, more for a reply on a shared, loaded machine.
# The slowest request is bounded by the reload itself (below): a reload on
# the event loop makes some request wait for nearly all of it.
MEDIANS = {"healthz": 100, "reply": 400}


def synthetic_corpus(path: Path, size: int) -> None:
    """The bundled entries, reworded at random until there are `size` of them."""
    bundled = load_corpus(load_settings().corpus).entries
    words = sorted({w for e in bundled for w in e.answer.lower().split() if w.isalpha()})
    rng = random.Random(19)
    with path.open("w", encoding="utf-8") as out:
        for n in range(size):
            entry = entry_to_json(bundled[n % len(bundled)])
            extra = " ".join(rng.sample(words, 6))
            entry.update(id=f"{entry['id']}-{n}", question=f"{entry['question']} {extra}",
                         answer=f"{entry['answer']} {' '.join(rng.sample(words, 20))}")
            out.write(json.dumps(entry) + "\n")


async def test_health_and_replies_answer_while_a_big_corpus_reloads(aiohttp_client,  # type: ignore[no-untyped-def]
                                                                   tmp_path) -> None:
    big = tmp_path / "big.jsonl"
    synthetic_corpus(big, ENTRIES)
    settings = load_settings().replace(db=f"sqlite:///{tmp_path / 'l.db'}", rate_limit=0,
                                       data_dir=str(tmp_path), index_cache=False)
    store = Store(settings.db_url)
    bot = build_bot(settings, tickets=store)
    # The bot serves the bundled corpus; the corpus it reloads from holds ENTRIES.
    app = create_app(settings.replace(corpus=str(big)), bot, store)
    client = await aiohttp_client(app)
    before = app[BOT].corpus.version
    # Warm up the paths measured below (first-call imports, the engine's thread).
    assert (await client.get("/healthz")).status == 200
    assert (await client.post("/api/v1/messages", json={"text": "hello"})).status == 200

    store.set_corpus_version("taught-on-another-replica")
    reload = asyncio.ensure_future(sync_corpus_once(app, None))
    timings: dict[str, list[float]] = {"healthz": [], "reply": []}
    started = time.perf_counter()
    while not reload.done():
        t0 = time.perf_counter()
        assert (await client.get("/healthz")).status == 200
        timings["healthz"].append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        response = await client.post("/api/v1/messages",
                                     json={"text": "when can I drive after my stent?"})
        assert response.status == 200 and (await response.json())["text"]
        timings["reply"].append((time.perf_counter() - t0) * 1000)
        await asyncio.sleep(0.02)
    await reload
    took = time.perf_counter() - started
    store.close()

    assert app[BOT].corpus.version != before and len(app[BOT].corpus.entries) == ENTRIES
    assert app[SETTINGS].corpus == str(big)
    # The reload was long enough to matter, and no request waited for it.
    assert took > 1 and len(timings["reply"]) >= 5, (took, timings)
    seen = {name: (round(statistics.median(v), 1), round(max(v), 1))
            for name, v in timings.items()}
    slowest = max(0.5 * took * 1000, 250)
    for name, median in MEDIANS.items():
        assert seen[name][0] < median and seen[name][1] < slowest, (
            f"{name} while reloading {ENTRIES} entries for {took:.1f} s: median and slowest "
            f"{seen[name]} ms; bounds {(median, round(slowest))}")
