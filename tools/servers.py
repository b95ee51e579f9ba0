"""Servers on loopback for tests and benchmarks: a free port, and waiting
until a URL answers 200. The one copy (tests, bench and tools/cluster.py
import it; the scripts put tools/ on sys.path)."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None) -> float:
    """Poll `url` until it answers 200; seconds waited. Fails early if `proc` exits."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r:.200} exited with {proc.returncode} before {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")
