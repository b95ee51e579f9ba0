"""The package's shape, checked from its source: imports run one way.

Every `import` of a `bot` module counts, inside functions and TYPE_CHECKING
blocks too. The checks: no cycle among bot's modules; only the web layer and
the command line above it import `bot.web`; `bot.domain` imports no bot
module; only `bot.web` imports aiohttp; and no module in `bot/web/` is longer
than one sitting's read (450 lines).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

BOT = Path(__file__).resolve().parent.parent / "bot"
MAX_WEB_LINES = 450
# The command line sits above the web layer: `faqbot serve` starts it.
ABOVE_WEB = {"bot.cli", "bot.commands"}
# Cycles someone is already removing, each with the reason it may stay for now.
KNOWN_CYCLES: dict[frozenset[str], str] = {}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(BOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(BOT.rglob("*.py"))}


def imported(name: str, path: Path, known: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """(module, line) for each bot module that `path` imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "bot":
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "bot":
                continue
            for alias in node.names:
                # `from . import teach` names a module; `from .x import y` names a thing in x.
                sub = f"{target}.{alias.name}"
                yield (sub if sub in known else target), node.lineno


def third_party(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            yield node.module.split(".")[0]


def graph() -> dict[str, set[str]]:
    known = modules()
    edges: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        for target, _ in imported(name, path, known):
            if target != name:
                edges[name].add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.add(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_checker_sees_imports_inside_functions() -> None:
    edges = cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})
    assert edges == [{"a", "b", "c"}]
    known = modules()
    # bot/commands.py imports the web server inside a function.
    assert any(t.startswith("bot.web") for t, _ in
               imported("bot.commands", known["bot.commands"], known))


def test_bot_imports_form_no_cycle() -> None:
    found = [c for c in cycles(graph()) if frozenset(c) not in KNOWN_CYCLES]
    assert found == [], "import cycles: " + "; ".join(" <-> ".join(sorted(c)) for c in found)


def test_only_the_web_layer_and_the_cli_import_bot_web() -> None:
    wrong = sorted(f"{source} imports {target}" for source, targets in graph().items()
                   for target in targets
                   if target.startswith("bot.web") and not source.startswith("bot.web")
                   and source not in ABOVE_WEB)
    assert wrong == []


def test_use_cases_sit_between_the_web_layer_and_the_engine() -> None:
    edges = graph()
    users = sorted(s for s, targets in edges.items() if "bot.teaching" in targets)
    assert all(u.startswith("bot.web") or u in ABOVE_WEB for u in users), users
    assert not any(t.startswith("bot.web") for t in edges["bot.teaching"])


def test_nothing_in_bot_web_imports_its_facade() -> None:
    wrong = sorted(s for s, targets in graph().items() if "bot.web.app" in targets)
    assert set(wrong) <= ABOVE_WEB, wrong


def test_domain_imports_no_bot_module() -> None:
    assert graph()["bot.domain"] == set()


def test_only_bot_web_imports_aiohttp() -> None:
    wrong = sorted(name for name, path in modules().items()
                   if not name.startswith("bot.web") and "aiohttp" in set(third_party(path)))
    assert wrong == []


def test_web_modules_are_short() -> None:
    long = {name: n for name, path in modules().items() if name.startswith("bot.web")
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_WEB_LINES}
    assert long == {}
