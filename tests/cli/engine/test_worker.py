"""cli/engine/worker: one process imports the shared modules once, then plans each tree alone in a forked child."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli.diff.compare import DiffError, plan_trees
from tests.conftest import BASE_CONFIG, ROOT
from tests.stackfiles import copy_program, write_stack


def tree(root: Path, main_suffix: str = "") -> Path:
    copy_program(root)
    write_stack(root, "stg", BASE_CONFIG)
    if main_suffix:
        with (root / "__main__.py").open("a") as main:
            main.write(main_suffix)
    return root


def test_each_tree_is_planned_by_its_own_program(tmp_path):
    trees = {
        "a": tree(tmp_path / "a"),
        "b": tree(tmp_path / "b", "\npulumi.export('tree', 'b')\n"),
        "none": tmp_path / "none",  # no stack file here
    }
    trees["none"].mkdir()
    a, b, none = plan_trees(trees, "stg")
    assert "tree" not in a.outputs and b.outputs["tree"] == "b"
    assert a.resources.keys() == b.resources.keys() and a.resources
    assert none.missing and not a.missing


def test_a_child_that_dies_is_the_answer_with_its_stderr_and_the_others_are_stopped(tmp_path):
    pid_file = tmp_path / "sleeper.pid"
    sleeper = f"\nimport os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(120)\n"
    # The crash waits for the sleeper to be running, so stopping it is what the test sees.
    crash = (
        f"\nimport os, sys, time\nwhile not os.path.exists({str(pid_file)!r}): time.sleep(0.05)\n"
        "print('tree b gave up', file=sys.stderr, flush=True)\nos._exit(3)\n"
    )
    trees = {"a": tree(tmp_path / "a", sleeper), "b": tree(tmp_path / "b", crash)}
    started = time.monotonic()
    with pytest.raises(DiffError, match=r"(?s)^b: planning crashed:.*tree b gave up"):
        plan_trees(trees, "stg")
    assert time.monotonic() - started < 60  # not the sleeper's 120 s
    sleeper_pid = int(pid_file.read_text())
    for _ in range(100):
        if not _alive(sleeper_pid):
            break
        time.sleep(0.05)
    assert not _alive(sleeper_pid)


def _alive(pid: int) -> bool:
    """Running, not merely waiting to be reaped by whoever inherited it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_the_preloaded_modules_exist_and_bring_in_no_project_code(tmp_path):
    engine = tmp_path / "engine"
    engine.mkdir()
    (engine / "cli").symlink_to(ROOT / "cli")
    script = (
        "import importlib, sys\nfrom cli.engine.worker import PRELOAD\n"
        "for module in PRELOAD: importlib.import_module(module)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'components', 'policies', 'tests'}))"
    )
    env = {**os.environ, "PYTHONPATH": str(engine)}
    result = subprocess.run([sys.executable, "-P", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
