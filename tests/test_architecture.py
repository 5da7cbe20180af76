"""The layers of evalbot/ hold: imports point down, SDKs stay home, modules stay small.

docs/architecture.md draws the same picture; this test is what keeps it true.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "evalbot"

# Lower number = lower layer.  A module may import its own layer or below, never above;
# the three middle packages never import each other (each talks to one outside thing).
BASE = {"evalbot", "evalbot.errors", "evalbot.local_files", "evalbot.text"}
MIDDLE = ("evalbot.sources", "evalbot.output", "evalbot.github")
SHELL_RANK = 3

# Which package may import which third-party SDK.
SDK_HOMES = {
    "langsmith": "evalbot.sources.langsmith",
    "github": "evalbot.github",
    "jinja2": "evalbot.output",
}

# "Modules <= about 400 lines" (issue 12).  Modules still being split are listed with
# their current size; the list only shrinks.
MAX_LINES = 420
OVERSIZED: dict[str, int] = {}

# Edges still being untangled; the set only shrinks (each entry: importer, imported).
KNOWN_EDGES: set[tuple[str, str]] = set()


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _rank(module: str) -> int:
    if module in BASE:
        return 0
    if module.startswith("evalbot.core"):
        return 1
    if module.startswith(MIDDLE):
        return 2
    return SHELL_RANK


def _package(module: str) -> str:
    return next((p for p in MIDDLE if module == p or module.startswith(p + ".")), module)


def _imports(module: str) -> set[str]:
    """Every module ``module`` imports, at the top or inside a function."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _internal(module: str) -> set[str]:
    return {
        name
        for name in _imports(module)
        if name in MODULES and name != module and (module, name) not in KNOWN_EDGES
    }


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_downward(module: str) -> None:
    upward = [name for name in _internal(module) if _rank(name) > _rank(module)]
    assert not upward, f"{module} imports a higher layer: {sorted(upward)}"


@pytest.mark.parametrize("module", [m for m in sorted(MODULES) if _rank(m) == 2])
def test_middle_packages_do_not_import_each_other(module: str) -> None:
    sideways = [
        name
        for name in _internal(module)
        if _rank(name) == 2 and _package(name) != _package(module)
    ]
    assert not sideways, f"{module} imports a sibling package: {sorted(sideways)}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_sdks_stay_in_their_package(module: str) -> None:
    for sdk, home in SDK_HOMES.items():
        uses = any(name == sdk or name.startswith(sdk + ".") for name in _imports(module))
        assert not uses or module.startswith(home), f"{module} imports {sdk} outside {home}"


def test_no_import_cycles() -> None:
    graph = {module: _internal(module) for module in MODULES}
    # A package's __init__ importing nothing, the package name itself is not an edge.
    state: dict[str, int] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if target in {"evalbot"}:
                continue
            if state.get(target) == 1:
                cycle = [*path[path.index(target) :], target] if target in path else [target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_are_small(module: str) -> None:
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    allowed = OVERSIZED.get(module, MAX_LINES)
    assert lines <= allowed, f"{module} has {lines} lines (at most {allowed})"


def test_oversized_list_only_names_oversized_modules() -> None:
    stale = [
        module
        for module in OVERSIZED
        if module not in MODULES
        or len(MODULES[module].read_text(encoding="utf-8").splitlines()) <= MAX_LINES
    ]
    assert not stale, f"remove from OVERSIZED (now small or gone): {stale}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_each_module_states_its_job(module: str) -> None:
    doc = ast.get_docstring(ast.parse(MODULES[module].read_text(encoding="utf-8")))
    assert doc and doc.splitlines()[0].strip(), f"{module} has no one-line docstring"


def module_map() -> str:
    """The Markdown table of every module and its job, layer by layer, as docs show it."""
    layers = ["base", "core", "sources", "output", "github", "shells"]

    def layer(module: str) -> str:
        if _rank(module) in (0, 1):
            return layers[_rank(module)]
        return _package(module).split(".")[1] if _rank(module) == 2 else "shells"

    rows = ["| layer | module | its one job |", "| --- | --- | --- |"]
    ordered = sorted(MODULES, key=lambda m: (layers.index(layer(m)), m))
    for module in ordered:
        if module.endswith("__main__") or MODULES[module].name == "__init__.py":
            continue
        doc = ast.get_docstring(ast.parse(MODULES[module].read_text(encoding="utf-8"))) or ""
        path = MODULES[module].relative_to(PACKAGE.parent).as_posix()
        job = doc.splitlines()[0].strip().replace("|", "\\|")
        rows.append(f"| {layer(module)} | [`{path}`](../{path}) | {job} |")
    return "\n".join(rows) + "\n"


def test_architecture_doc_lists_every_module_and_its_job() -> None:
    doc = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    expected = module_map()
    stale = "docs/architecture.md's module map is stale; it should read:\n"
    assert expected in doc, stale + expected
