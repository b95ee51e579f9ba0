"""The operations docs checked by running them (issue 23): every `faqbot` command
line in docs/deployment.md and docs/staff.md parses, every settings file example
loads, no systemd value carries an inline comment, and the nginx config passes
`nginx -t` and keeps `?token=` out of its access log."""

from __future__ import annotations

import re
import shlex
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from bot.cli import build_parser
from bot.config import SETTINGS, load_settings

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "docs" / "deployment.md", ROOT / "docs" / "staff.md"]
BLOCK = re.compile(r"```(\w*)\n(.*?)```", re.S)


def blocks(kind: str) -> list[str]:
    return [body for doc in DOCS for lang, body in BLOCK.findall(doc.read_text())
            if lang == kind]


def command_lines() -> list[str]:
    lines = []
    for body in blocks("") + blocks("ini"):
        for line in body.splitlines():
            match = re.search(r"(?:^\s*|/bin/)faqbot (.*)$", line)
            if match and not line.lstrip().startswith("#"):
                lines.append(match.group(1).split("  #")[0].split(" # ")[0].strip())
    return lines


def concrete(line: str, keep_optional: bool) -> list[str]:
    """A usage line made runnable: placeholders filled, [optional] parts kept or dropped."""
    line = re.sub(r"\[([^\]]*)\]", r"\1" if keep_optional else "", line)
    line = re.sub(r"([^\s|]+)\|\S+", r"\1", line)  # first of a|b|c
    line = line.replace("NAME", "jo.smith")
    return shlex.split(line)


def test_the_docs_show_commands() -> None:
    assert len(command_lines()) >= 20


@pytest.mark.parametrize("line", command_lines())
def test_every_documented_command_parses(line: str) -> None:
    parser = build_parser()
    for keep in (True, False):
        try:
            parser.parse_args(concrete(line, keep))
        except SystemExit as exc:  # --help and --version exit 0
            if exc.code:
                pytest.fail(f"documented command does not parse: faqbot {line}")


def test_settings_file_examples_load(tmp_path: Path) -> None:
    examples = blocks("yaml")
    assert examples
    for number, body in enumerate(examples):
        path = tmp_path / f"{number}.yaml"
        path.write_text(body)
        assert set(yaml.safe_load(body)) <= {s.name for s in SETTINGS}
        load_settings(path, {})  # a bad value fails here, with the setting's name


def test_documented_variables_are_settings() -> None:
    names = {s.name for s in SETTINGS}
    for doc in DOCS:
        for name in re.findall(r"FAQBOT_([A-Z_]+)", doc.read_text()):
            if name not in ("CONFIG", "TEST_PG", "TEST_REDIS"):
                assert name.lower() in names, f"{doc.name}: FAQBOT_{name}"


def test_no_inline_comment_in_a_systemd_value() -> None:
    """systemd keeps `# ...` after a value as part of it; start-up then fails."""
    for body in blocks("ini"):
        for line in body.splitlines():
            if "=" in line and not line.lstrip().startswith(("#", ";")):
                assert "#" not in line, line


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_nginx_config_hides_tokens_and_staff(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                      else None)
    if nginx is None or shutil.which("openssl") is None:
        pytest.skip("nginx or openssl not installed (make nginx)")
    config = next(b for b in blocks("nginx") if "log_format" in b)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=faq.example-hospital.org", "-keyout", str(tmp_path / "k.pem"),
                    "-out", str(tmp_path / "c.pem")], check=True, capture_output=True)
    https, http = free_port(), free_port()
    (tmp_path / "logs").mkdir()
    config = (config.replace("/etc/letsencrypt/live/faq.example-hospital.org/fullchain.pem",
                             str(tmp_path / "c.pem"))
              .replace("/etc/letsencrypt/live/faq.example-hospital.org/privkey.pem",
                       str(tmp_path / "k.pem"))
              .replace("/var/log/nginx/", f"{tmp_path}/logs/")
              .replace("listen 443 ssl", f"listen 127.0.0.1:{https} ssl")
              .replace("listen 80;", f"listen 127.0.0.1:{http};")
              .replace("server 127.0.0.1:8080;", f"server 127.0.0.1:{free_port()};"))
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/logs/error.log;\n"
                    f"events {{}}\nhttp {{\n{config}\n}}\n")
    base = [nginx, "-p", str(tmp_path), "-c", str(conf)]
    checked = subprocess.run([*base, "-t"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    subprocess.run(base, check=True, capture_output=True)
    try:
        import ssl

        context = ssl._create_unverified_context()
        statuses = {}
        for path in ("/channels/chatwoot?token=SECRET-123", "/staff/login", "/metrics"):
            deadline = time.time() + 10
            while True:
                try:
                    urllib.request.urlopen(f"https://127.0.0.1:{https}{path}", context=context,
                                           timeout=5)
                    statuses[path] = 200
                    break
                except urllib.error.HTTPError as exc:
                    statuses[path] = exc.code
                    break
                except OSError:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.1)
    finally:
        pid = int((tmp_path / "nginx.pid").read_text())
        subprocess.run(["kill", str(pid)], check=False)
    # No backend runs: the chat path gets 502; loopback is not on the staff or metrics lists.
    assert statuses["/staff/login"] == 403 and statuses["/metrics"] == 403
    access = (tmp_path / "logs" / "faqbot.access.log").read_text()
    assert "/channels/chatwoot" in access and "SECRET-123" not in access
