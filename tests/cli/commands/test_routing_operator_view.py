"""Issue 19.7: what an operator sees: the status table, commands named as typed, plain --help, validate's stacks."""

from __future__ import annotations

import subprocess

import pytest
from typer.testing import CliRunner

from cli.__main__ import app as cli_app
from cli.edits.changes import Refused, plan_rollback
from cli.shared.hints import VIA_MAKE, command, for_stack
from components.config import parse_stack_config
from tests.conftest import ROOT
from tests.stackfiles import copy_program, write_stack


def test_status_shows_full_images_the_rollback_target_and_the_preview_url(tmp_path, config):
    config["apps"]["front"].update(activeColor="green", previousColor="blue")
    config["apps"]["front"]["green"]["image"] = "europe-docker.pkg.dev/other/web/front:1.5.0"
    copy_program(tmp_path)
    write_stack(tmp_path, "stg", config)
    result = CliRunner().invoke(cli_app, ["status", "--stack", "stg", "--root", str(tmp_path)])
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if "rollback to" in line)
    assert [c.strip() for c in header.strip("┃ ").split("┃")] == [
        "app",
        "active",
        "rollback to",
        "traffic",
        "preview",
        "preview URL",
        "cohorts",
        "blue",
        "green",
    ]
    row = next(line for line in result.output.splitlines() if line.startswith("│ front"))
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells == [
        "front",
        "green",
        "blue",
        "green 100%",
        "blue",
        "http://front.stg.example.com/test/",
        "-",
        "asia-docker.pkg.dev/acme/web/front:1.4.2 x3",
        "europe-docker.pkg.dev/other/web/front:1.5.0 x3",
    ]


def test_commands_are_named_as_the_user_runs_them(monkeypatch):
    monkeypatch.delenv(VIA_MAKE, raising=False)
    with for_stack("stg"):
        assert command("canary", app="front", weight=0) == "python -m cli canary --stack stg --app front --weight 0"
        monkeypatch.setenv(VIA_MAKE, "1")
        assert command("canary", app="front", weight=0) == "make canary STACK=stg APP=front WEIGHT=0"


def test_a_refusal_through_make_names_the_make_command(tmp_path, config):
    config["apps"]["front"].update(activeColor="green")
    copy_program(tmp_path)
    write_stack(tmp_path, "stg", config)
    args = ["rollback", "--stack", "stg", "--app", "front", "--root", str(tmp_path)]
    via_make = CliRunner().invoke(cli_app, args, env={VIA_MAKE: "1"})
    assert via_make.exit_code == 1 and "use `make flip STACK=stg APP=front TO=<color>`" in via_make.output
    direct = CliRunner().invoke(cli_app, args, env={VIA_MAKE: ""})
    assert "use `python -m cli flip --stack stg --app front --to <color>`" in direct.output


def test_make_sets_the_variable_for_every_guarded_command():
    makefile = (ROOT / "Makefile").read_text()
    for name in ("flip", "rollback", "canary", "release"):
        assert f"\t@BLUEGREEN_MAKE=1 $(PY) -m cli {name} " in makefile


def test_rollback_during_a_canary_names_both_ways_out(config, monkeypatch):
    monkeypatch.setenv(VIA_MAKE, "1")
    config["apps"]["front"].update(activeColor="green", previousColor="blue", canaryWeight=10)
    with for_stack("stg"), pytest.raises(Refused) as err:
        plan_rollback(parse_stack_config(config), "front")
    assert "`make canary STACK=stg APP=front WEIGHT=0`" in str(err.value) and "`make flip STACK=stg APP=front TO=<color>`" in str(err.value)


@pytest.mark.parametrize("name", ["release", "flip", "diff"])
def test_help_shows_flags_plainly_and_root_defaults_to_dot(name):
    result = CliRunner().invoke(cli_app, [name, "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "<bool>" not in result.output and str(ROOT) not in result.output
    assert "[default: .]" in result.output
    if name == "release":
        assert "  --dry-run  " in result.output


def test_make_validate_names_the_stacks(tmp_path):
    makefile = (ROOT / "Makefile").read_text()
    assert "validated stack(s): $(sort $(patsubst build/%/manifests,%,$(wildcard build/*/manifests)))" in makefile
    (tmp_path / "build" / "stg" / "manifests").mkdir(parents=True)
    (tmp_path / "build" / "prod" / "manifests").mkdir(parents=True)
    probe = "all:\n\t@echo $(sort $(patsubst build/%/manifests,%,$(wildcard build/*/manifests)))\n"
    (tmp_path / "Makefile").write_text(probe)
    assert subprocess.run(["make", "-s"], cwd=tmp_path, capture_output=True, text=True).stdout == "prod stg\n"
