"""Fixtures of the diff tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.diff import compare
from cli.diff.tree_plan import TreePlan


@pytest.fixture
def plan_trees_once(monkeypatch):
    """The diffs of one test plan their trees once: for tests of what a diff does after planning (how a removal is
    declared, which pack config applies), where planning the same two trees again would only cost time."""
    planned: list[list[TreePlan]] = []
    real_plan_trees = compare.plan_trees

    def plan_once(trees: dict[str, Path], stack: str) -> list[TreePlan]:
        if not planned:
            planned.append(real_plan_trees(trees, stack))
        return planned[0]

    monkeypatch.setattr(compare, "plan_trees", plan_once)
    return planned
