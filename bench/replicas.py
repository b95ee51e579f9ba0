"""Throughput of POST /api/v1/messages with 1 and 2 replicas behind nginx.

Each replica is a real `faqbot serve` on PostgreSQL (a fresh faqbot_bench_<random>
database, dropped afterwards) and Redis (sessions and rate limiter, under a
unique key prefix, deleted afterwards); nginx round-robins between them. wrk
(Debian package; `make bench-replicas` installs it) posts a JSON message for
10 s at concurrency 32 after a 2 s warm-up. Writes bench/replicas.json and
prints the scaling ratio (2-replica rate / 1-replica rate).

    .venv/bin/python bench/replicas.py [--seconds 10] [--connections 32]

On a 2-core machine, nginx, wrk, PostgreSQL and Redis share the cores with the
replicas, so the ratio stays well under 2; it says how much a second process
buys on the same box, not what a second box would.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from cluster import Cluster  # noqa: E402

OUT = Path(__file__).resolve().parent / "replicas.json"
PG_ADMIN_URL = os.environ.get("FAQBOT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("FAQBOT_TEST_REDIS", "redis://127.0.0.1:6379/0")

LUA = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"text": "how long does it take to recover from kyphoplasty"}'

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "non_2xx": %d, "timeouts": %d, "latency_mean_ms": %.3f, ' ..
    '"latency_p50_ms": %.3f, "latency_p99_ms": %.3f, "latency_max_ms": %.3f}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean / 1000, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
"""


def wrk(url: str, script: Path, seconds: int, connections: int) -> dict:
    threads = min(2, connections)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
         "-s", str(script), url + "/api/v1/messages"],
        capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("WRKJSON "))
    result = json.loads(line.removeprefix("WRKJSON "))
    result["requests_per_second"] = round(
        result["requests"] / (result["duration_us"] / 1e6), 1)
    return result


def run(replicas: int, tmp: Path, db_url: str, prefix: str, seconds: int,
        connections: int, script: Path) -> dict:
    cluster = Cluster(tmp / f"n{replicas}", db_url, REDIS_URL, replicas_count=replicas,
                      env_extra={"FAQBOT_REDIS_PREFIX": prefix})
    cluster.tmp.mkdir(parents=True)
    cluster.start()
    try:
        wrk(cluster.url, script, 2, connections)  # warm-up
        result = wrk(cluster.url, script, seconds, connections)
    finally:
        cluster.stop()
    result["replicas"] = replicas
    print(f"{replicas} replica(s): {result['requests_per_second']:.0f} req/s, "
          f"p50 {result['latency_p50_ms']:.1f} ms, p99 {result['latency_p99_ms']:.1f} ms, "
          f"non-2xx {result['non_2xx']}", flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk (or make bench-replicas)",
              file=sys.stderr)
        return 2
    import psycopg
    import redis

    name = f"faqbot_bench_{uuid.uuid4().hex[:10]}"
    prefix = f"faqbot-bench-{uuid.uuid4().hex[:8]}:"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    db_url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    client = redis.Redis.from_url(REDIS_URL)
    try:
        with tempfile.TemporaryDirectory(prefix="faqbot-bench-") as tmp_name:
            tmp = Path(tmp_name)
            script = tmp / "post.lua"
            script.write_text(LUA)
            runs = [run(n, tmp, db_url, prefix, args.seconds, args.connections, script)
                    for n in (1, 2)]
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
    ratio = round(runs[1]["requests_per_second"] / runs[0]["requests_per_second"], 2)
    report = {
        "endpoint": "POST /api/v1/messages",
        "seconds": args.seconds, "connections": args.connections,
        "stores": "PostgreSQL (tickets, reply log) + Redis (sessions, rate limit)",
        "proxy": "nginx round robin", "load": "wrk",
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "runs": runs, "scaling_ratio": ratio,
    }
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"scaling ratio 2/1 replicas: {ratio:.2f} (on {os.cpu_count()} CPUs); "
          f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
