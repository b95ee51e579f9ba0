"""`make test` must leave the checkout as it found it (issue 19, item 6).

    python tools/tree_check.py snapshot   # before the tests
    python tools/tree_check.py compare    # after: names what the run changed

Only what changed between the two calls counts: a developer's own
uncommitted or untracked work is in both snapshots and is not reported
(unless the run rewrote it). Ignored files (data/, reports/, node_modules/)
never count. `compare` exits 1 when the run changed something and CI is set
(CI=true, as .ci/run and most CI systems set it); elsewhere it warns, since
someone may be editing the checkout while the suite runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


def state(root: Path) -> dict[str, str]:
    """Each path git reports as changed or untracked, with a hash of its content."""
    out = _git("status", "--porcelain=v1", "-z", "--untracked-files=all", cwd=root)
    entries = out.split("\0")
    paths: dict[str, str] = {}
    i = 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if not entry:
            continue
        code, path = entry[:2], entry[3:]
        if code[0] in "RC":  # a rename is followed by its old name
            i += 1
        file = root / path
        digest = hashlib.sha256(file.read_bytes()).hexdigest() if file.is_file() else "gone"
        paths[path] = f"{code} {digest}"
    return paths


def snapshot_file(root: Path) -> Path:
    return root / _git("rev-parse", "--git-path", "faqbot-tree-before.json", cwd=root).strip()


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))


def main(argv: list[str]) -> int:
    root = Path(_git("rev-parse", "--show-toplevel", cwd=Path.cwd()).strip())
    saved = snapshot_file(root)
    if argv == ["snapshot"]:
        saved.write_text(json.dumps(state(root)))
        return 0
    if argv != ["compare"]:
        print(__doc__, file=sys.stderr)
        return 2
    before = json.loads(saved.read_text()) if saved.exists() else {}
    paths = changed(before, state(root))
    if not paths:
        print("tree check: the test run left the checkout as it found it")
        return 0
    strict = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    print(f"tree check: the test run {'changed' if strict else 'may have changed'} "
          f"{len(paths)} path(s) in the checkout (write to a temporary directory, or "
          "add the path to .gitignore):", file=sys.stderr)
    for path in paths:
        print(f"  {path}", file=sys.stderr)
    return 1 if strict else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
