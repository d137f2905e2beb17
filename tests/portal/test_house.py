"""The house rules that code review would otherwise have to remember: no import cycle (lazy
imports included), no module of the apps over 400 lines, no `type: ignore` without a code and
a reason on its line. The layers themselves are import-linter's contracts (pyproject.toml),
and mypy checks the types; `make test` runs both."""

from __future__ import annotations

import re
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "audit", "common", "portal", "provisioning")
MAX_LINES = 400


def _app_modules() -> list[Path]:
    return [
        path
        for app in APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts
    ]


def _strongly_connected(graph: grimp.ImportGraph) -> list[set[str]]:
    """Tarjan's algorithm over every module of ours: each set of more than one module (or a
    module importing itself) is an import cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    counter = 0

    def visit(module: str) -> None:
        nonlocal counter
        index[module] = low[module] = counter
        counter += 1
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in graph.modules or imported.split(".")[0] not in APPS:
                continue
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(component)

    for module in sorted(graph.modules):
        if module.split(".")[0] in APPS and module not in index:
            visit(module)
    return found


def test_no_module_of_ours_imports_itself_back_not_even_lazily() -> None:
    graph = grimp.build_graph(*APPS, exclude_type_checking_imports=False)
    cycles = _strongly_connected(graph)
    assert not cycles, f"import cycles: {[sorted(cycle) for cycle in cycles]}"


def test_the_cycle_finder_finds_a_cycle() -> None:
    # Guards the test above: a graph with a known loop must be reported.
    graph = grimp.ImportGraph()
    for module in ("portal.a", "portal.b", "portal.c"):
        graph.add_module(module)
    graph.add_import(importer="portal.a", imported="portal.b")
    graph.add_import(importer="portal.b", imported="portal.a")
    graph.add_import(importer="portal.b", imported="portal.c")
    assert _strongly_connected(graph) == [{"portal.a", "portal.b"}]


def test_no_module_of_the_apps_is_over_400_lines() -> None:
    exempt = {ROOT / "portal" / "settings.py"}
    long = {
        str(path.relative_to(ROOT)): count
        for path in _app_modules()
        if path not in exempt and (count := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"split these along a seam: {long}"


_IGNORE = re.compile(r"#\s*type:\s*ignore(?P<codes>\[[^\]]+\])?(?P<rest>.*)$")


def test_every_type_ignore_names_its_error_and_says_why() -> None:
    bare = []
    for path in _app_modules():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = _IGNORE.search(line)
            if match and not (match["codes"] and re.match(r"\s+#\s*\S", match["rest"])):
                bare.append(f"{path.relative_to(ROOT)}:{number}")
    assert not bare, f"give these a code and a reason (# type: ignore[code]  # why): {bare}"
