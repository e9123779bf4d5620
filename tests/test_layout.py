"""The components/ layout shows the architecture: shared <- platform <- app, and no import cycles."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

COMPONENTS = ROOT / "components"
# Which layers each layer may import (besides itself).
MAY_IMPORT = {"shared": set(), "platform": {"shared"}, "app": {"shared", "platform"}}


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _imports(path: Path) -> set[str]:
    """The components.* modules `path` imports, resolved to module names."""
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
    return {name for name in found if name.startswith("components.")}


def _graph() -> dict[str, set[str]]:
    return {_module(p): _imports(p) for p in COMPONENTS.rglob("*.py") if p.name != "__init__.py"}


def test_every_module_sits_in_a_layer_or_is_the_stack_config():
    loose = {m for m in _graph() if len(m.split(".")) == 2}
    assert loose == {"components.config"}


def test_layers_import_only_the_layers_below_them():
    wrong = []
    for module, imports in _graph().items():
        layer = module.split(".")[1]
        if layer not in MAY_IMPORT:
            continue
        for imported in imports:
            target = imported.split(".")[1]
            if target != layer and target not in MAY_IMPORT[layer]:
                wrong.append(f"{module} imports {imported}")
    assert wrong == []


def test_no_import_cycles():
    graph = _graph()
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


def test_tests_mirror_the_layers():
    """Every test file of a layer is about one of its modules: test_<module>.py or test_<module>_<aspect>.py."""
    for layer in ("platform", "app"):
        modules = {p.stem for p in (COMPONENTS / layer).glob("*.py") if p.name != "__init__.py"}
        for test in (ROOT / "tests" / layer).glob("test_*.py"):
            name = test.stem.removeprefix("test_")
            assert any(name == m or name.startswith(f"{m}_") for m in modules), f"{test.relative_to(ROOT)} tests no module of {layer}"
