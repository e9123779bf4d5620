"""Broken stack files: every command answers with one `error: Pulumi.<stack>.yaml:L:C: ...` line and exit 1.

All commands read stack files through cli/stackfile/read.py: a YAML syntax error, a tab and a duplicate key are
reported the same way by plan, diff, status, flip, canary, rollback and release, with no traceback.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cli.__main__ import app as cli_app
from cli.diff.compare import EXIT_ERROR
from cli.stackfile.read import StackFileError, parse, project_name, read_stack_config
from cli.stackfile.yaml_edit import edit_text
from tests.conftest import PROJECT, ROOT
from tests.stackfiles import copy_program, git

# Line numbers matter below: `hosts` of front is line 10, `port` line 11.
VALID = """\
config:
  bluegreen-platform:cluster: {name: acme-stg, location: europe-west1, project: acme-stg}
  bluegreen-platform:istio: {version: 1.30.0}
  bluegreen-platform:gateway:
    namespace: app
    hosts: [front.stg.example.com]
  bluegreen-platform:apps:
    front:
      namespace: app
      hosts: [front.stg.example.com]
      port: 8080
      activeColor: blue
      blue: {image: r/front:1.4.2, replicas: 3}
      green: {image: r/front:1.5.0, replicas: 3}
      canaryWeight: 0
"""
FRONT_HOSTS = "      hosts: [front.stg.example.com]\n      port: 8080\n"
DUPLICATE_PORT = VALID.replace(FRONT_HOSTS, FRONT_HOSTS + "      port: 9090\n")
DUPLICATE_PORT_ERROR = "Pulumi.stg.yaml:12:7: duplicate key config.bluegreen-platform:apps.front.port (first at line 11)"

BROKEN = [
    pytest.param(
        VALID.replace(FRONT_HOSTS, "      hosts: [front.stg.example.com\n      port: 8080\n"),
        "Pulumi.stg.yaml:11:11: expected ',' or ']', but got ':' (while parsing a flow sequence started at 10:14)",
        id="unclosed-bracket",
    ),
    pytest.param(
        VALID.replace(FRONT_HOSTS, "      hosts: [front.stg.example.com]\n\tport: 8080\n"),
        "Pulumi.stg.yaml:11:1: a tab character: YAML indents with spaces only",
        id="tab",
    ),
    pytest.param(DUPLICATE_PORT, DUPLICATE_PORT_ERROR, id="duplicate-key"),
]

EDITS = [
    pytest.param(["status"], id="status"),
    pytest.param(["flip", "--app", "front", "--to", "green"], id="flip"),
    pytest.param(["canary", "--app", "front", "--weight", "10"], id="canary"),
    pytest.param(["rollback", "--app", "front"], id="rollback"),
    pytest.param(["release", "--app", "front"], id="release"),
    pytest.param(["release", "--app", "front", "--dry-run"], id="release-dry-run"),
]


def assert_one_error(output: str, exit_code: int, expected_code: int, message: str) -> None:
    assert "Traceback" not in output
    assert output.strip().splitlines() == [f"error: {message}"]
    assert exit_code == expected_code


def test_the_valid_file_works_for_every_command(tmp_path):
    # The broken variants below differ from a file every command accepts by one line.
    copy_program(tmp_path)
    (tmp_path / "Pulumi.stg.yaml").write_text(VALID)
    for args in (
        ["status"],
        ["canary", "--app", "front", "--weight", "10"],
        ["flip", "--app", "front", "--to", "green"],
        ["rollback", "--app", "front"],
    ):
        result = CliRunner().invoke(cli_app, [*args, "--stack", "stg", "--root", str(tmp_path)])
        assert result.exit_code == 0, result.output


@pytest.mark.parametrize("args", EDITS)
@pytest.mark.parametrize("text, message", BROKEN)
def test_status_and_guarded_edits_print_one_line_and_write_nothing(tmp_path, args, text, message):
    copy_program(tmp_path)
    (tmp_path / "Pulumi.stg.yaml").write_text(text)
    result = CliRunner().invoke(cli_app, [*args, "--stack", "stg", "--root", str(tmp_path)])
    assert_one_error(result.output, result.exit_code, 1, message)
    assert (tmp_path / "Pulumi.stg.yaml").read_text() == text


@pytest.fixture(scope="module")
def plan_project(tmp_path_factory) -> Path:
    """A copy of this project, because `python -m cli plan` plans the checkout its cli/ sits in."""
    root = tmp_path_factory.mktemp("plan")
    copy_program(root)
    for package in ("cli", "policies"):
        shutil.copytree(ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__", "venv"))
    return root


def plan_cli(root: Path, stack: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "cli", "plan", "--stack", stack]
    return subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("text, message", BROKEN)
def test_plan_prints_one_line_and_writes_nothing(plan_project, text, message):
    (plan_project / "Pulumi.stg.yaml").write_text(text)
    result = plan_cli(plan_project, "stg")
    assert "Traceback" not in result.stderr and result.stderr == ""
    assert_one_error(result.stdout, result.returncode, 1, message)
    assert not (plan_project / "build").exists()


@pytest.fixture
def repo(tmp_path) -> Path:
    """A git repository whose HEAD has the valid stack file."""
    copy_program(tmp_path)
    (tmp_path / "Pulumi.stg.yaml").write_text(VALID)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "valid")
    return tmp_path


def diff_cli(root: Path, *args: str):
    return CliRunner().invoke(cli_app, ["diff", "--stack", "stg", "--base", "HEAD", "--root", str(root), *args])


@pytest.mark.parametrize("text, message", BROKEN)
def test_diff_of_a_broken_working_tree_prints_one_line(repo, text, message):
    (repo / "Pulumi.stg.yaml").write_text(text)
    result = diff_cli(repo)
    assert_one_error(result.output, result.exit_code, EXIT_ERROR, message)


def test_diff_against_a_broken_base_says_which_commit(repo):
    (repo / "Pulumi.stg.yaml").write_text(DUPLICATE_PORT)
    git(repo, "commit", "-qam", "a second port")
    commit = git(repo, "rev-parse", "--short=8", "HEAD").strip()
    (repo / "Pulumi.stg.yaml").write_text(VALID)
    result = diff_cli(repo)
    assert_one_error(result.output, result.exit_code, EXIT_ERROR, f"{DUPLICATE_PORT_ERROR} (at BASE HEAD ({commit}))")


# --- the loader itself -------------------------------------------------------------------------


def read(tmp_path: Path, text: str) -> tuple[dict[str, str], list[str]]:
    path = tmp_path / "Pulumi.s.yaml"
    path.write_text(text)
    return read_stack_config(path, PROJECT)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "Pulumi.s.yaml: the file is empty; a stack file has a config: mapping with the stack's settings"),
        ("# nothing yet\n", "Pulumi.s.yaml: the file is empty; a stack file has a config: mapping with the stack's settings"),
        ("- config\n", "Pulumi.s.yaml:1:1: must be a mapping with a config: key, got a list"),
        ("encryptionsalt: abc\n", "Pulumi.s.yaml:1:1: config: must be a mapping of keys to values, got nothing"),
        ("encryptionsalt: abc\nconfig:\n", "Pulumi.s.yaml:2:1: config: must be a mapping of keys to values, got nothing"),
        ("config: [a, b]\n", "Pulumi.s.yaml:1:1: config: must be a mapping of keys to values, got a list"),
        ("config: yes\n", "Pulumi.s.yaml:1:1: config: must be a mapping of keys to values, got the value 'yes'"),
        ('config:\n  a: "open\n', "Pulumi.s.yaml:3:1: found unexpected end of stream (while scanning a quoted scalar started at 2:6)"),
    ],
)
def test_files_of_the_wrong_shape_get_one_message(tmp_path, text, message):
    with pytest.raises(StackFileError) as err:
        read(tmp_path, text)
    assert str(err.value) == message


def test_duplicates_inside_flow_maps_and_lists_name_their_path():
    text = "config:\n  p:nodePool:\n    taints:\n      - {key: a, effect: NoSchedule, key: b}\n"
    with pytest.raises(StackFileError, match=r"^Pulumi.s.yaml:4:38: duplicate key config.p:nodePool.taints.0.key \(first at line 4\)$"):
        parse(text, "Pulumi.s.yaml")


def test_the_same_key_in_two_maps_is_no_duplicate():
    assert parse("a: {port: 1}\nb: {port: 1}\n", "x.yaml") == {"a": {"port": 1}, "b": {"port": 1}}


def test_values_reach_the_engine_as_the_pulumi_cli_passes_them(tmp_path):
    # YAML 1.2 like the Pulumi CLI: `yes` is text; anchors, dates and hex numbers become plain values.
    config, _ = read(tmp_path, "config:\n  p:a: {on: &t true, again: *t, word: yes, day: 2024-05-01, hex: 0x1F}\n  p:b: 8080\n")
    assert json.loads(config["p:a"]) == {"on": True, "again": True, "word": "yes", "day": "2024-05-01", "hex": 31}
    assert config["p:b"] == "8080"


@pytest.mark.parametrize("stack", ["stg", "prod", "local"])
def test_the_real_stack_files_read_as_before(stack):
    # The same values PyYAML read from them before there was one loader.
    config, _ = read_stack_config(ROOT / f"Pulumi.{stack}.yaml", PROJECT)
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    assert {key: yaml.safe_load(text) for key, text in config.items()} == {
        key if ":" in key else f"{PROJECT}:{key}": value for key, value in document.items()
    }


def test_project_file_problems_name_the_project_file(tmp_path):
    with pytest.raises(StackFileError, match=re.escape(f"no Pulumi.yaml in {tmp_path}: not a Pulumi project")):
        project_name(tmp_path)
    (tmp_path / "Pulumi.yaml").write_text("runtime: python\n")
    with pytest.raises(StackFileError, match=r"^Pulumi.yaml: name: is required"):
        project_name(tmp_path)
    (tmp_path / "Pulumi.yaml").write_text("name: a\nname: b\n")
    with pytest.raises(StackFileError, match=r"^Pulumi.yaml:2:1: duplicate key name \(first at line 1\)$"):
        project_name(tmp_path)


def test_the_round_trip_edit_reads_through_the_same_loader():
    with pytest.raises(StackFileError, match=r"^Pulumi.stg.yaml:12:7: duplicate key config.bluegreen-platform:apps.front.port"):
        edit_text(DUPLICATE_PORT, PROJECT, {"apps.front.activeColor": "green"}, name="Pulumi.stg.yaml")
