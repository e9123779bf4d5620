"""What `python -m cli` loads before it plans: no Pulumi SDK for `--help`, and none for a stack file it refuses."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.cli.engine.test_plan import copy_project
from tests.conftest import ROOT

SDK = re.compile(r"\|\s+(pulumi|pulumi_kubernetes|pulumi_gcp)(\.|$)", re.M)  # a line of -X importtime


def loaded_sdk_modules(args: list[str], cwd=ROOT) -> tuple[subprocess.CompletedProcess, list[str]]:
    done = subprocess.run([sys.executable, "-X", "importtime", *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    return done, [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if SDK.search(line)]


def test_help_loads_no_pulumi_sdk():
    done, loaded = loaded_sdk_modules(["-m", "cli", "--help"])
    assert done.returncode == 0 and "Commands" in done.stdout
    assert loaded == []


def test_a_broken_stack_file_is_refused_before_the_sdk_loads(tmp_path):
    root = copy_project(tmp_path)
    (root / "Pulumi.stg.yaml").write_text("config:\n  bluegreen-platform:apps: [\n")
    done, loaded = loaded_sdk_modules(["-m", "cli", "plan", "--stack", "stg"], cwd=root)
    assert done.returncode == 1
    assert "error: Pulumi.stg.yaml:3:1: expected the node content" in done.stdout
    assert loaded == []


def test_a_plan_does_load_it():
    """The check above can fail: a plan that runs shows the SDK in the same listing."""
    done, loaded = loaded_sdk_modules(["-c", "import cli.engine.mock"])
    assert done.returncode == 0 and "pulumi" in loaded
