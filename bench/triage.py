"""Red-flag checks per message, as a share of the whole reply.

Times `Bot.check_red_flags` (both languages' rules, the language guess
included) and `Bot.reply` on the same messages in the same process: every
question and alternate of the corpus (the common case, calm) and the blind
triage sets (long messages, mostly red flags). Prints JSON.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from bot.assembly import build_bot  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.engine import MemoryTickets  # noqa: E402


def per_message_ms(function, texts: list[str], repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    for text in texts[:50]:
        function(text)  # warm caches
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        for text in texts:
            function(text)
        runs.append((time.perf_counter() - started) * 1000 / len(texts))
    return statistics.median(runs)


def main() -> None:
    bot = build_bot(load_settings(environ={}), tickets=MemoryTickets())
    calm = [p for e in bot.corpus.entries for p in e.phrasings()]
    written = [i["text"] for name in ("train", "dev") for i in
               yaml.safe_load((ROOT / "tests" / "triage" / f"{name}.yaml").read_text())]
    counter = iter(range(10**9))
    rows = {}
    for name, texts in (("corpus phrasings", calm), ("triage sets", written)):
        check = per_message_ms(bot.check_red_flags, texts)
        reply = per_message_ms(lambda t: bot.reply(t, f"b{next(counter)}"), texts, repeat=1)
        rows[name] = {"messages": len(texts), "check_ms": round(check, 4),
                      "reply_ms": round(reply, 3), "share_of_reply": round(check / reply, 3)}
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
