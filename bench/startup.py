"""Start-up benchmark: process start to the first 200 from /healthz.

`faqbot serve` is started as a subprocess (a throwaway SQLite file, a free
loopback port) and /healthz is polled every 10 ms. The bundled corpus is
timed REPEATS times (median reported), the 47k medquad corpus once.
Prints a JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from http_bench import stop  # bench/ is on sys.path when a bench script runs
from servers import free_port  # http_bench put tools/ on sys.path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FAQBOT = ROOT / ".venv" / "bin" / "faqbot"
MEDQUAD = Path("/work/shared/data/medquad.jsonl")
REPEATS = 3


def time_start(corpus: Path | None, timeout: float = 300, cache_dir: str | None = None) -> dict:
    """One start; `cache_dir` turns the on-disk index cache on, in that data directory."""
    with tempfile.TemporaryDirectory(prefix="faqbot-startup-") as tmp:
        env = {**os.environ, "FAQBOT_ON_CALL_NUMBER": "555-0100",
               "FAQBOT_DATA_DIR": cache_dir or tmp,
               "FAQBOT_INDEX_CACHE": "true" if cache_dir else "false"}
        port = free_port()
        command = [str(FAQBOT), "serve", "--host", "127.0.0.1", "--port", str(port),
                   "--rate-limit", "0", "--db", f"sqlite:///{Path(tmp) / 'bench.db'}"]
        if corpus:
            command += ["--corpus", str(corpus)]
        url = f"http://127.0.0.1:{port}/healthz"
        log = (Path(tmp) / "server.log").open("w")
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        try:
            while True:
                elapsed = time.perf_counter() - started
                if elapsed > timeout:
                    raise RuntimeError(f"not ready after {timeout}s")
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited with {proc.returncode}: "
                                       f"{(Path(tmp) / 'server.log').read_text()[-2000:]}")
                try:
                    with urllib.request.urlopen(url, timeout=5) as response:
                        if response.status == 200:
                            body = json.loads(response.read())
                            ready = time.perf_counter() - started
                            break
                except OSError:
                    time.sleep(0.01)
            import psutil

            rss = psutil.Process(proc.pid).memory_info().rss / 2**20
        finally:
            stop(proc)
            log.close()
    return {"ready_s": ready, "entries": body.get("entries"), "rss_mib": rss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--skip-large", action="store_true", help="bundled corpus only")
    args = parser.parse_args()
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="faqbot-cache-") as cache:
        # Cold: the index is built. Cached: a restart loads the index saved by
        # an earlier start with the same corpus (the first, priming start is not counted).
        time_start(None, cache_dir=cache)
        for name, cache_dir in (("bundled", None), ("bundled_cached", cache)):
            runs = [time_start(None, cache_dir=cache_dir) for _ in range(args.repeats)]
            results[name] = {"runs": runs, "entries": runs[0]["entries"],
                             "ready_s": statistics.median(r["ready_s"] for r in runs),
                             "min_s": min(r["ready_s"] for r in runs),
                             "max_s": max(r["ready_s"] for r in runs),
                             "rss_mib": statistics.median(r["rss_mib"] for r in runs)}
            print(f"  startup {name} {results[name]['ready_s']:.2f}s", file=sys.stderr,
                  flush=True)
        if not args.skip_large:
            results["medquad"] = time_start(MEDQUAD, cache_dir=cache)  # builds and saves
            results["medquad_cached"] = time_start(MEDQUAD, cache_dir=cache)
            for name in ("medquad", "medquad_cached"):
                print(f"  startup {name} {results[name]['ready_s']:.2f}s", file=sys.stderr,
                      flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
