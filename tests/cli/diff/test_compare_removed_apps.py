"""Issue 19.4: nothing disappears by typo: unknown config namespaces are errors, and a diff that takes all of an
app's traffic away says `!! REMOVES APP` and fails unless the removal is on purpose (--remove-app)."""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from cli.__main__ import app as cli_app
from cli.diff.compare import EXIT_CHANGES, EXIT_ERROR, compare, render_markdown, render_text
from cli.diff.tree_plan import TreePlan
from cli.shared import traffic
from components.config import ConfigError, project_config
from tests.conftest import PROJECT, ROOT, engine_config
from tests.stackfiles import copy_program, git, write_stack

BLUE = traffic.Traffic((("blue", 100),), ("green",))


# --- namespaces --------------------------------------------------------------------------------


def test_a_misspelt_project_namespace_is_an_error_naming_the_closest(config):
    engine = engine_config(config)
    engine["bluegreen-platfrom:apps"] = engine.pop(f"{PROJECT}:apps")
    with pytest.raises(ConfigError) as err:
        project_config(engine, PROJECT)
    assert err.value.problems == [
        "bluegreen-platfrom:apps: unknown config namespace 'bluegreen-platfrom', nothing would read this key "
        "(did you mean bluegreen-platform:apps?)"
    ]


def test_a_namespace_like_none_lists_the_ones_there_are(config):
    with pytest.raises(ConfigError, match=r"this program reads bluegreen-platform:, command:, gcp:, kubernetes:, pulumi:\)$"):
        project_config({**engine_config(config), "zzz:x": "1"}, PROJECT)


def test_the_provider_and_cli_namespaces_stay_allowed(config):
    engine = {**engine_config(config), "gcp:project": "acme", "kubernetes:context": "c", "pulumi:tags": "{}", "command:x": "y"}
    assert set(project_config(engine, PROJECT)) == set(config)


@pytest.mark.parametrize("args", [["status"], ["flip", "--app", "front", "--to", "green"]])
def test_commands_refuse_a_stack_file_with_a_misspelt_namespace(tmp_path, config, args):
    copy_program(tmp_path)
    path = write_stack(tmp_path, "stg", config)
    text = path.read_text().replace(f"{PROJECT}:apps:", "bluegreen-platfrom:apps:")
    path.write_text(text)
    result = CliRunner().invoke(cli_app, [*args, "--stack", "stg", "--root", str(tmp_path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "did you mean bluegreen-platform:apps?" in result.output
    assert path.read_text() == text


def test_only_the_first_20_problems_are_shown_then_a_count():
    error = ConfigError([f"apps.a{i}.port: bad" for i in range(1000)])
    lines = str(error).splitlines()
    assert lines[:2] == ["apps.a0.port: bad", "apps.a1.port: bad"] and len(lines) == 21
    assert lines[-1] == "... and 980 more problems (1000 in all)"
    assert len(error.problems) == 1000


# --- app removals in the diff ------------------------------------------------------------------


def test_an_app_gone_from_the_config_is_a_loud_removal_and_an_error():
    diff = compare(TreePlan({}, {"front": BLUE, "api": BLUE}, {"x": 1}), TreePlan({}, {"api": BLUE}, {}), "stg", "main")
    assert diff.removed_apps == {"front": "blue 100% -> (none): its VirtualService, Deployments and Service are deleted"}
    assert diff.exit_code == EXIT_ERROR
    text = render_text(diff)
    assert text.splitlines()[1] == (
        "!! REMOVES APP front: blue 100% -> (none): its VirtualService, Deployments and Service are deleted. If that is a "
        "typo, fix the stack file; to remove front on purpose say so: make diff STACK=stg REMOVE_APP=front "
        "(python -m cli diff ... --remove-app front)"
    )
    assert "> **REMOVES APP front: blue 100% -> (none)" in render_markdown(diff)


def test_an_app_left_without_routes_is_a_removal_too():
    diff = compare(TreePlan({}, {"front": BLUE}, {"x": 1}), TreePlan({}, {"front": traffic.Traffic(())}, {}), "stg", "main")
    assert diff.removed_apps == {"front": "blue 100% -> (none): no route sends it traffic any more"}


def test_a_removal_on_purpose_is_still_shown_but_not_an_error():
    diff = compare(TreePlan({}, {"front": BLUE}, {"x": 1}), TreePlan({}, {}, {}), "stg", "main")
    diff.removals_on_purpose = frozenset({"front"})
    assert diff.exit_code == EXIT_CHANGES
    assert (
        "!! REMOVES APP front: blue 100% -> (none): its VirtualService, Deployments and Service are deleted (on purpose: --remove-app front)"
        in render_text(diff)
    )


def test_a_new_app_or_a_flip_is_no_removal():
    green = traffic.Traffic((("green", 100),), ("blue",))
    assert traffic.apps_losing_all_traffic({"front": BLUE}, {"front": green, "api": BLUE}) == {}


@pytest.fixture
def two_apps(tmp_path, config):
    api = copy.deepcopy(config["apps"]["front"])
    api.update(namespace="api", hosts=["api.apps.example.com"])
    config["apps"]["api"] = api
    copy_program(tmp_path)
    write_stack(tmp_path, "stg", config)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "two apps")
    del config["apps"]["front"]
    write_stack(tmp_path, "stg", config)
    return tmp_path


def test_make_diff_of_a_deleted_app_fails_unless_it_is_removed_on_purpose(two_apps, monkeypatch, plan_trees_once):
    args = ["diff", "--stack", "stg", "--base", "HEAD", "--root", str(two_apps)]
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == EXIT_ERROR, result.output
    assert "!! REMOVES APP front: blue 100% -> (none): its VirtualService, Deployments and Service are deleted." in result.output
    assert len(plan_trees_once) == 1  # the same two plans from here on: what changes is how the removal is declared
    assert CliRunner().invoke(cli_app, [*args, "--remove-app", "front"]).exit_code == EXIT_CHANGES
    monkeypatch.setenv("REMOVE_APP", "front")  # as `make diff REMOVE_APP=front` passes it
    assert CliRunner().invoke(cli_app, args).exit_code == EXIT_CHANGES
    monkeypatch.setenv("REMOVE_APP", "api")  # naming another app does not cover this one
    assert CliRunner().invoke(cli_app, args).exit_code == EXIT_ERROR


def test_make_plan_says_loudly_when_a_committed_app_is_gone(tmp_path, config):
    copy_program(tmp_path)
    for package in ("cli", "policies"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "venv"))
    api = copy.deepcopy(config["apps"]["front"])
    api.update(namespace="api", hosts=["api.apps.example.com"])
    config["apps"]["api"] = api
    write_stack(tmp_path, "stg", config)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "two apps")
    del config["apps"]["api"]
    write_stack(tmp_path, "stg", config)
    result = subprocess.run(
        [sys.executable, "-m", "cli", "plan", "--stack", "stg"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "!! REMOVES APP api: in the committed Pulumi.stg.yaml, not in this one: `pulumi up` deletes it" in result.stdout
    assert "REMOVES APP front" not in result.stdout
