"""Start several `faqbot serve` replicas behind nginx on loopback, for tests and benchmarks.

Used by tests/test_replicas.py and bench/replicas.py. Everything runs as the
current user: nginx gets a generated config and its own prefix directory, each
replica gets a free port. `Cluster.stop()` ends every process it started.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from servers import free_port, wait_http  # tools/ is on sys.path beside this file

ROOT = Path(__file__).resolve().parent.parent
FAQBOT = str(Path(sys.executable).with_name("faqbot"))

NGINX_CONF = """\
{user}worker_processes 1;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;
    upstream faqbot {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://faqbot;
            # A replica that refuses or drops the connection is tried no more for 5 s;
            # the request goes to the next one (POSTs only if not yet sent).
            proxy_next_upstream error timeout http_502;
            proxy_next_upstream_tries 3;
            proxy_connect_timeout 2s;
            proxy_read_timeout 30s;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"""


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(p)), None)


@dataclass
class Replica:
    name: str
    port: int
    proc: subprocess.Popen
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Cluster:
    """`replicas` faqbot processes sharing one database, one Redis and one corpus dir."""

    tmp: Path
    db_url: str
    redis_url: str
    replicas_count: int = 3
    env_extra: dict[str, str] = field(default_factory=dict)
    replicas: list[Replica] = field(default_factory=list)
    nginx: subprocess.Popen | None = None
    nginx_port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.nginx_port}"

    @property
    def corpus(self) -> Path:
        return self.tmp / "corpus"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "FAQBOT_CORPUS": str(self.corpus),
            "FAQBOT_DATA_DIR": str(self.tmp / "data"),
            "FAQBOT_SECURE_COOKIES": "false",
            "FAQBOT_STAFF_SECRET": env.get("FAQBOT_STAFF_SECRET") or os.urandom(16).hex(),
            "FAQBOT_CORPUS_POLL_SECONDS": "0.5",
            "FAQBOT_ON_CALL_NUMBER": env.get("FAQBOT_ON_CALL_NUMBER") or "555-0100",
        })
        env.update(self.env_extra)
        return env

    def start(self, timeout: float = 90) -> Cluster:
        nginx = nginx_binary()
        if nginx is None:
            raise FileNotFoundError("nginx is not installed (apt-get install -y nginx)")
        if not self.corpus.exists():
            shutil.copytree(ROOT / "corpus", self.corpus)
        self.env_extra.setdefault("FAQBOT_STAFF_SECRET", os.urandom(16).hex())
        env = self.env()
        try:
            for number in range(self.replicas_count):
                self.start_replica(f"r{number}", env)
            for replica in self.replicas:
                wait_http(replica.url + "/healthz", timeout, replica.proc)
            self.nginx_port = free_port()
            servers = "\n".join(f"        server 127.0.0.1:{r.port} max_fails=1 fail_timeout=5s;"
                                for r in self.replicas)
            # As root, nginx workers would switch to "nobody" and lose the tmp dir.
            user = "user root;\n" if os.geteuid() == 0 else ""
            conf = self.tmp / "nginx.conf"
            conf.write_text(NGINX_CONF.format(user=user, tmp=self.tmp, servers=servers,
                                              port=self.nginx_port))
            with open(self.tmp / "nginx-stderr.log", "wb") as err:
                self.nginx = subprocess.Popen(
                    [nginx, "-e", str(self.tmp / "nginx-error.log"), "-p", str(self.tmp),
                     "-c", str(conf), "-g", f"daemon off; pid {self.tmp}/nginx.pid;"],
                    stdout=subprocess.DEVNULL, stderr=err)
            wait_http(self.url + "/healthz", 20, self.nginx)
        except BaseException:
            self.stop()
            raise
        return self

    def start_replica(self, name: str, env: dict[str, str]) -> Replica:
        port = free_port()
        log = self.tmp / f"{name}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [FAQBOT, "serve", "--host", "127.0.0.1", "--port", str(port), "--db",
                 self.db_url, "--sessions", self.redis_url, "--rate-limit", "1000000"],
                env=env | {"FAQBOT_REPLICA_NAME": name}, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True)
        replica = Replica(name, port, proc, log)
        self.replicas.append(replica)
        return replica

    def kill(self, replica: Replica) -> None:
        """SIGKILL: no graceful shutdown, in-flight requests are cut."""
        replica.proc.send_signal(signal.SIGKILL)
        replica.proc.wait(10)

    def add_user(self, username: str, password: str) -> None:
        subprocess.run([FAQBOT, "staff", "add-user", username, "--password-stdin",
                        "--db", self.db_url], input=password + "\n", text=True, check=True,
                       env=self.env(), capture_output=True, timeout=60)

    def stop(self) -> None:
        procs = [r.proc for r in self.replicas] + ([self.nginx] if self.nginx else [])
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def logs(self) -> str:
        parts = []
        for path in sorted(self.tmp.glob("*.log")):
            parts.append(f"--- {path.name}\n" + path.read_text(errors="replace")[-3000:])
        return "\n".join(parts)


def post_json(url: str, body: dict, timeout: float = 15) -> tuple[int, dict, dict]:
    """POST JSON; return (status, headers, parsed body), 5xx included, never raising on HTTP."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            data = json.loads(raw)
        except ValueError:
            data = {"raw": raw.decode(errors="replace")[:200]}
        return exc.code, dict(exc.headers), data
