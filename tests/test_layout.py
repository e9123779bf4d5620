"""The layouts show the architecture, and no import cycles.

components/: shared <- platform <- app (and `components.config`, the stack contract, joins them).
cli/: shared <- stackfile <- engine <- diff <- edits <- release <- commands: each package by what it does, the
typer commands on top as the one entry point (`cli/__main__.py` only runs them).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

COMPONENTS = ROOT / "components"
CLI = ROOT / "cli"
# Which layers each layer may import (besides itself).
MAY_IMPORT = {
    "components": {"shared": set(), "platform": {"shared"}, "app": {"shared", "platform"}},
    "cli": {
        "shared": set(),
        "stackfile": {"shared"},
        "engine": {"shared", "stackfile"},
        "diff": {"shared", "stackfile", "engine"},
        "edits": {"shared", "stackfile", "engine", "diff"},
        "release": {"shared", "stackfile", "engine", "diff", "edits"},
        "commands": {"shared", "stackfile", "engine", "diff", "edits", "release"},
    },
}
# The modules outside any layer.
LOOSE = {"components": {"components.config"}, "cli": {"cli.__main__"}}


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _imports(path: Path, tree: str) -> set[str]:
    """The `tree`.* modules `path` imports, resolved to module names."""
    package = _module(path).rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if (ROOT / f"{base}.{alias.name}".replace(".", "/")).with_suffix(".py").exists() else base)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {name for name in found if name.startswith(f"{tree}.")}


def _graph(tree: str) -> dict[str, set[str]]:
    return {_module(p): _imports(p, tree) for p in (ROOT / tree).rglob("*.py") if p.name != "__init__.py"}


@pytest.mark.parametrize("tree", sorted(MAY_IMPORT))
def test_every_module_sits_in_a_layer_or_is_named_loose(tree):
    layers = MAY_IMPORT[tree]
    loose = {m for m in _graph(tree) if len(m.split(".")) == 2}
    assert loose == LOOSE[tree]
    outside = {m for m in _graph(tree) if len(m.split(".")) > 2 and m.split(".")[1] not in layers}
    assert outside == set()


@pytest.mark.parametrize("tree", sorted(MAY_IMPORT))
def test_layers_import_only_the_layers_below_them(tree):
    wrong = []
    for module, imports in _graph(tree).items():
        layer = module.split(".")[1]
        if layer not in MAY_IMPORT[tree]:
            continue
        for imported in imports:
            target = imported.split(".")[1]
            if target != layer and target not in MAY_IMPORT[tree][layer]:
                wrong.append(f"{module} imports {imported}")
    assert wrong == []


@pytest.mark.parametrize("tree", sorted(MAY_IMPORT))
def test_no_import_cycles(tree):
    graph = _graph(tree)
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = "open"
        for nxt in sorted(graph.get(module, ())):
            if state.get(nxt) == "open":
                return [*path, module, nxt]
            if nxt in graph and nxt not in state and (cycle := visit(nxt, [*path, module])):
                return cycle
        state[module] = "done"
        return None

    cycles = [c for m in sorted(graph) if m not in state and (c := visit(m, []))]
    assert cycles == []


def test_cli_modules_import_their_siblings_by_full_name():
    """`from cli.stackfile.read import ...`, never `from .read import ...`: a module's imports say which layer
    each name comes from."""
    relative = [
        f"{_module(p)}:{node.lineno}"
        for p in CLI.rglob("*.py")
        for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, ast.ImportFrom) and node.level
    ]
    assert relative == []


@pytest.mark.parametrize(
    ("tests", "layers"),
    [
        (ROOT / "tests", {layer: COMPONENTS / layer for layer in ("platform", "app")}),
        (ROOT / "tests" / "cli", {layer: CLI / layer for layer in MAY_IMPORT["cli"]}),
    ],
    ids=["components", "cli"],
)
def test_tests_mirror_the_layers(tests, layers):
    """Every test file of a layer is about one of its modules: test_<module>.py or test_<module>_<aspect>.py."""
    for layer, source in layers.items():
        modules = {p.stem for p in source.glob("*.py") if p.name != "__init__.py"}
        assert modules, f"{source.relative_to(ROOT)} has no modules"
        for test in (tests / layer).glob("test_*.py"):
            name = test.stem.removeprefix("test_")
            assert any(name == m or name.startswith(f"{m}_") for m in modules), f"{test.relative_to(ROOT)} tests no module of {layer}"


def test_cli_tests_sit_in_a_layers_folder():
    loose = sorted(p.name for p in (ROOT / "tests" / "cli").glob("*.py") if p.name != "__init__.py")
    assert loose == []
