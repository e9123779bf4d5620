"""The Makefile's own answers: `make` lists the targets, missing variables and an old python3 get one line, exit 2."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def make(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-s", "--no-print-directory", *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def documented_targets() -> list[str]:
    return re.findall(r"^([a-z0-9-]+):.*## ", (ROOT / "Makefile").read_text(), flags=re.MULTILINE)


def test_make_without_a_target_lists_every_target_with_one_line():
    result = make()
    assert result.returncode == 0 and result.stderr == ""
    listed = [line.split()[0] for line in result.stdout.splitlines()[1:]]
    assert listed == documented_targets()
    assert {"help", "plan", "test", "validate", "diff", "flip", "rollback", "canary", "status", "e2e"} <= set(listed)
    assert make("help").stdout == result.stdout


@pytest.mark.parametrize(
    "args, hint",
    [
        (["flip", "STACK=stg"], "APP is missing: make flip STACK=stg APP=front TO=green"),
        (["flip", "STACK=stg", "APP=front"], "TO is missing: make flip STACK=stg APP=front TO=green"),
        (["canary", "STACK=prod", "APP=front"], "WEIGHT is missing: make canary STACK=prod APP=front WEIGHT=10"),
        (["rollback"], "APP is missing: make rollback STACK=stg APP=front"),
    ],
)
def test_a_missing_variable_is_one_line_before_anything_runs(tmp_path, args, hint):
    # A venv that does not exist: if anything ran, `deps` would start creating it.
    venv = tmp_path / "venv"
    result = make(*args, f"VENV={venv}")
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and hint in result.stderr
    assert not venv.exists()


@pytest.fixture
def old_python3(tmp_path) -> Path:
    """A python3 that reports 3.10.12: the real interpreter, with sys.version_info set back by sitecustomize."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import sys\nsys.version_info = (3, 10, 12, 'final', 0)\n")
    wrapper = tmp_path / "python3"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH="{site}" exec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


@pytest.mark.parametrize("goal", ["deps", "plan", "test"])
def test_a_python3_older_than_3_11_is_refused_in_one_line(tmp_path, old_python3, goal):
    venv = tmp_path / "venv"
    result = make(goal, f"VENV={venv}", f"PYTHON3={old_python3}")
    assert result.returncode == 2 and result.stdout == ""
    message = f"{old_python3} is Python 3.10.12; bluegreen-platform needs Python 3.11 or newer (e.g. make {goal} PYTHON3=python3.11)"
    assert re.fullmatch(rf"Makefile:\d+: \*\*\* {re.escape(message)}\.  Stop\.\n", result.stderr)
    assert not venv.exists()


def test_help_needs_no_python(tmp_path):
    result = make(f"VENV={tmp_path / 'venv'}", f"PYTHON3={tmp_path / 'no-such-python'}")
    assert result.returncode == 0 and "plan" in result.stdout
