"""Same input, same output: `plan` and `diff` give byte-identical files and stdout across fresh processes.

Each run is its own interpreter with its own PYTHONHASHSEED, so set and dict-of-set order differs between
runs, and registrations made inside `apply` callbacks race as they do for real.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli.engine.plan_cache import CACHE_ENV as PLAN_CACHE_ENV
from cli.engine.recording import Registration, tree_order
from tests.conftest import BASE_CONFIG, ROOT
from tests.stackfiles import copy_program, write_stack

HASH_SEEDS = ("1", "2024")


def run_cli(args: list[str], cwd: Path, seed: str) -> subprocess.Popen:
    # Planned for real every time: a plan read back from the cache would prove nothing about the engine.
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT), PLAN_CACHE_ENV: "off"}
    return subprocess.Popen(
        [sys.executable, "-m", "cli", *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    stdout, stderr = process.communicate(timeout=300)
    return process.returncode, stdout, stderr


def tree_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("stack", ["stg", "prod", "local"])
def test_plan_output_is_byte_identical_across_runs(stack, tmp_path):
    runs = [tmp_path / f"run-{seed}" for seed in HASH_SEEDS]
    # Started together: both runs race the same way a real one does. `--out` is relative, so stdout
    # names the same folder in both.
    processes = []
    for run, seed in zip(runs, HASH_SEEDS, strict=False):
        run.mkdir()
        processes.append(run_cli(["plan", "--stack", stack, "--out", f"build/{stack}"], run, seed))
    results = [finish(p) for p in processes]
    for code, stdout, stderr in results:
        assert code == 0, stdout + stderr
        assert "planned in " in stderr  # the timing moved to stderr, out of the compared output
    first, second = (tree_bytes(run / "build" / stack) for run in runs)
    assert first.keys() == second.keys() and "resources.json" in first
    assert [name for name in first if first[name] != second[name]] == []
    assert results[0][1] == results[1][1]


def test_diff_text_and_markdown_are_byte_identical_across_runs(tmp_path):
    project = tmp_path / "project"
    copy_program(project)
    write_stack(project, "stg", BASE_CONFIG)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "base"]):
        subprocess.run([*git, *args], cwd=project, check=True, capture_output=True)
    changed = copy.deepcopy(BASE_CONFIG)
    changed["apps"]["front"]["activeColor"] = "green"
    changed["apps"]["api"] = {**copy.deepcopy(BASE_CONFIG["apps"]["front"]), "hosts": ["api.apps.example.com"]}
    write_stack(project, "stg", changed)

    processes = [
        run_cli(
            ["diff", "--stack", "stg", "--base", "HEAD", "--root", str(project), "--markdown", str(tmp_path / f"{seed}.md")], tmp_path, seed
        )
        for seed in HASH_SEEDS
    ]
    (first_code, first_out, first_err), (second_code, second_out, second_err) = (finish(p) for p in processes)
    assert first_code == second_code == 2, first_out + first_err + second_out + second_err
    assert "+ Deployment api-blue" in first_out  # a diff with adds and changes, so order matters
    assert first_out == second_out
    assert (tmp_path / f"{HASH_SEEDS[0]}.md").read_bytes() == (tmp_path / f"{HASH_SEEDS[1]}.md").read_bytes()


def registration(type_: str, name: str, parent: str = "") -> Registration:
    return Registration(f"urn:{type_}::{name}", type_, name, parent, [], "", True, {})


def test_tree_order_puts_children_under_their_parent_and_siblings_by_type_then_name():
    app_front = registration("bluegreen:app:BlueGreenApp", "front")
    app_api = registration("bluegreen:app:BlueGreenApp", "api")
    resources = [
        registration("kubernetes:core/v1:Service", "front", app_front.urn),
        registration("pulumi:providers:kubernetes", "gke"),
        app_front,
        registration("kubernetes:apps/v1:Deployment", "front-green", app_front.urn),
        registration("kubernetes:apps/v1:Deployment", "api-blue", app_api.urn),
        app_api,
        registration("kubernetes:apps/v1:Deployment", "front-blue", app_front.urn),
    ]
    expected = [
        "BlueGreenApp api",
        "Deployment api-blue",
        "BlueGreenApp front",
        "Deployment front-blue",
        "Deployment front-green",
        "Service front",
        "kubernetes gke",
    ]
    assert [f"{r.type.rsplit(':', 1)[-1]} {r.name}" for r in tree_order(resources)] == expected
    assert tree_order(list(reversed(resources))) == tree_order(resources)
