"""tools/tree_check.py: what a test run changes in the checkout is reported;
a developer's own uncommitted work is not (issue 19, item 6)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

SCRIPT = ROOT / "tools" / "tree_check.py"


def _run(repo: Path, command: str, ci: bool) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CI": "true" if ci else ""}
    return subprocess.run([sys.executable, str(SCRIPT), command], cwd=repo, env=env,
                          capture_output=True, text=True, check=False)


def test_only_what_the_run_changed_is_reported(tmp_path: Path) -> None:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("data/\n")
    (tmp_path / "kept.txt").write_text("committed\n")
    (tmp_path / "mine.txt").write_text("committed\n")
    subprocess.run([*git, "add", "."], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "start"], cwd=tmp_path, check=True)
    # The developer's own work in progress, there before the run.
    (tmp_path / "mine.txt").write_text("edited by hand\n")
    (tmp_path / "draft.txt").write_text("untracked\n")

    assert _run(tmp_path, "snapshot", ci=True).returncode == 0
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "cache.bin").write_text("ignored")
    clean = _run(tmp_path, "compare", ci=True)
    assert clean.returncode == 0, clean.stderr

    (tmp_path / "kept.txt").write_text("rewritten by a test\n")
    (tmp_path / "package-lock.json").write_text("{}")
    dirty = _run(tmp_path, "compare", ci=True)
    assert dirty.returncode == 1
    assert "kept.txt" in dirty.stderr and "package-lock.json" in dirty.stderr
    assert "mine.txt" not in dirty.stderr and "draft.txt" not in dirty.stderr
    assert _run(tmp_path, "compare", ci=False).returncode == 0  # a warning outside CI
