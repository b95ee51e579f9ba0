"""HTTP benchmark: our server against a bare aiohttp server, loaded with wrk.

Both servers run on loopback, one process each, with the bundled corpus for
ours (rate limiting off, a throwaway SQLite file). wrk (one thread, leaving
the other core to the server) POSTs JSON questions that vary among a few
texts, for DURATION seconds at each concurrency. Prints a JSON object.

(Named http_bench.py rather than http.py: a bench/http.py would shadow the
standard library's `http` package for every script run from this folder.)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FAQBOT = ROOT / ".venv" / "bin" / "faqbot"
sys.path.insert(0, str(ROOT / "tools"))
from servers import free_port, wait_http  # noqa: E402

CONCURRENCY = (1, 8, 32, 64)
DURATION = 10
QUESTIONS = (
    "how long does recovery take after a biopsy",
    "can I eat before my embolization",
    "what are the risks of angioplasty",
    "when can I drive after the procedure",
    "will the stent hurt",
    "how long do I have to lie flat after chemoembolisation",
    "is radiofrequency ablation painful",
    "what should I bring on the day",
)
LUA = """
local bodies = {%s}
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", "/api/v1/messages",
                    {["Content-Type"] = "application/json"}, bodies[(n %% #bodies) + 1])
end
"""


def post(url: str, text: str) -> bytes:
    request = urllib.request.Request(url, data=json.dumps({"text": text}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200, response.status
        return response.read()


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * _UNITS[unit]


def parse_wrk(output: str) -> dict:
    result: dict = {}
    for pct in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{pct}(?:\.0+)?%\s+(\S+)", output, re.M)
        result[f"p{pct}_ms"] = _ms(m.group(1)) if m else None
    m = re.search(r"Requests/sec:\s+([\d.]+)", output)
    result["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in ([\d.]+\w+)", output)
    result["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    result["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: (.*)", output)
    result["socket_errors"] = m.group(1).strip() if m else ""
    return result


def run_wrk(url: str, script: Path, concurrency: int, duration: float) -> dict:
    command = ["wrk", "-t1", f"-c{concurrency}", f"-d{duration:g}s", "--timeout", "10s",
               "--latency", "-s", str(script), url]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed: {proc.stderr}")
    result = parse_wrk(proc.stdout)
    result["concurrency"] = concurrency
    return result


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "wrk"], check=True,
                   stdout=subprocess.DEVNULL)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=DURATION)
    parser.add_argument("--concurrency", default=",".join(map(str, CONCURRENCY)))
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    ensure_wrk()
    results: dict = {"duration_s": args.duration, "wrk_threads": 1,
                     "questions": list(QUESTIONS), "ours": [], "bare": []}
    with tempfile.TemporaryDirectory(prefix="faqbot-http-") as tmp:
        tmp_path = Path(tmp)
        script = tmp_path / "post.lua"
        script.write_text(LUA % ", ".join(json.dumps(json.dumps({"text": q}))
                                          for q in QUESTIONS))
        ours_port, bare_port = free_port(), free_port()
        ours_log = (tmp_path / "ours.log").open("w")
        env = dict(os.environ, PYTHONUNBUFFERED="1", FAQBOT_ON_CALL_NUMBER="555-0100")
        procs: list[subprocess.Popen] = []
        try:
            ours = subprocess.Popen(
                [str(FAQBOT), "serve", "--host", "127.0.0.1", "--port", str(ours_port),
                 "--rate-limit", "0", "--db", f"sqlite:///{tmp_path / 'bench.db'}"],
                stdout=ours_log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
            procs.append(ours)
            urls = {"ours": f"http://127.0.0.1:{ours_port}"}
            wait_http(f"{urls['ours']}/healthz", 120, ours)
            sizes = [len(post(f"{urls['ours']}/api/v1/messages", q)) for q in QUESTIONS]
            results["reply_bytes"] = round(sum(sizes) / len(sizes))
            bare = subprocess.Popen(
                [sys.executable, str(HERE / "bare_server.py"), "--port", str(bare_port),
                 "--body-bytes", str(results["reply_bytes"])],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
            procs.append(bare)
            urls["bare"] = f"http://127.0.0.1:{bare_port}"
            wait_http(f"{urls['bare']}/healthz", 120, bare)
            results["bare_reply_bytes"] = len(post(f"{urls['bare']}/api/v1/messages",
                                                   QUESTIONS[0]))
            for name in ("ours", "bare"):  # warm-up
                run_wrk(f"{urls[name]}/api/v1/messages", script, 8, 2)
            # Interleaved, so both servers see the same neighbours on a shared machine.
            for c in levels:
                for name in ("ours", "bare"):
                    row = run_wrk(f"{urls[name]}/api/v1/messages", script, c, args.duration)
                    results[name].append(row)
                    print(f"  http {name} c={c:<3} {row['rps']:8.1f} req/s "
                          f"p99 {row['p99_ms']:.1f} ms", file=sys.stderr, flush=True)
        finally:
            for proc in procs:
                stop(proc)
            ours_log.close()
    for ours_row, bare_row in zip(results["ours"], results["bare"], strict=True):
        ours_row["ratio_to_bare"] = ours_row["rps"] / bare_row["rps"] if bare_row["rps"] else None
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
