"""What commands say: `error:` / `refused:` prefixes, the stacks there are, the closest known key, true --help texts."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from cli.__main__ import app as cli_app
from components.config import ConfigError, parse_stack_config
from tests.stackfiles import copy_program, write_stack

QA_MISSING = "error: no stack file Pulumi.qa.yaml; stacks here: prod, stg"


@pytest.fixture
def project(tmp_path, config):
    copy_program(tmp_path)
    write_stack(tmp_path, "stg", config)
    write_stack(tmp_path, "prod", config)
    return tmp_path


def run(project, *args):
    return CliRunner().invoke(cli_app, [*args, "--root", str(project)])


@pytest.mark.parametrize(
    "args",
    [
        ["status"],
        ["flip", "--app", "front", "--to", "green"],
        ["canary", "--app", "front", "--weight", "5"],
        ["rollback", "--app", "front"],
    ],
    ids=["status", "flip", "canary", "rollback"],
)
def test_an_unknown_stack_lists_the_stacks_there_are(project, args):
    result = run(project, *args, "--stack", "qa")
    assert result.exit_code == 1
    assert result.output.strip() == QA_MISSING


def test_plan_of_an_unknown_stack_lists_the_stacks(tmp_path):
    # `python -m cli plan` plans the checkout it sits in: a stack this checkout does not have.
    result = subprocess.run([sys.executable, "-m", "cli", "plan", "--stack", "qa"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and result.stderr == ""
    assert re.fullmatch(r"error: no stack file Pulumi\.qa\.yaml; stacks here: [a-z, ]*\bstg\b[a-z, ]*\n", result.stdout)


def test_diff_of_a_stack_missing_on_both_sides_lists_the_stacks(project):
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    subprocess.run(["git", "add", "."], cwd=project, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "x"], cwd=project, check=True)
    result = run(project, "diff", "--stack", "qa", "--base", "HEAD")
    assert result.exit_code == 1
    assert re.fullmatch(
        r"error: no stack file Pulumi\.qa\.yaml at BASE HEAD \([0-9a-f]{8}\) nor in the working tree; stacks here: prod, stg\n",
        result.output,
    )


def test_errors_and_refusals_have_one_prefix_each(project, config):
    config["apps"]["front"]["green"]["replicas"] = 0
    write_stack(project, "stg", config)
    refused = run(project, "flip", "--app", "front", "--to", "green", "--stack", "stg")
    assert refused.exit_code == 1 and refused.output.startswith("refused: cannot flip front to green: ")
    bad_ref = run(project, "diff", "--stack", "stg", "--base", "no-such-ref")
    assert bad_ref.exit_code == 1 and bad_ref.output.startswith("error: BASE 'no-such-ref' is not a commit")


def test_an_invalid_config_is_an_error_for_every_command(project, config):
    config["apps"]["front"]["port"] = 0
    write_stack(project, "stg", config)
    for args in (["status"], ["rollback", "--app", "front"]):
        result = run(project, *args, "--stack", "stg")
        assert result.exit_code == 1
        assert result.output.splitlines() == [
            "error: Pulumi.stg.yaml is invalid, fix it first:",
            "apps.front.port: must be between 1 and 65535, got 0",
        ]


# --- the closest known key ---------------------------------------------------------------------


def problems(config) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_stack_config(config)
    return err.value.problems


def test_a_misspelt_key_suggests_the_known_one(config):
    config["apps"]["front"]["activeColour"] = config["apps"]["front"].pop("activeColor")
    assert problems(config) == ["apps.front.activeColour: unknown key (did you mean activeColor?)"]


@pytest.mark.parametrize(
    "path, value, expected",
    [
        (("gatway",), {}, "gatway: unknown key (did you mean gateway?)"),
        (
            ("apps", "front", "preview", "allowedSourceRange"),
            ["10.0.0.0/8"],
            "apps.front.preview.allowedSourceRange: unknown key (did you mean allowedSourceRanges?)",
        ),
        (("nodePool", "autoscalling"), {}, "nodePool.autoscalling: unknown key (did you mean autoscaling?)"),
        (("cluster", "zzzzz"), 1, "cluster.zzzzz: unknown key"),  # nothing close: no guess
    ],
)
def test_suggestions_come_from_the_model_at_that_key_path(config, path, value, expected):
    node = config
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value
    assert problems(config) == [expected]


def test_suggestions_reach_into_lists_and_the_istio_operator(config):
    config["nodePool"] = {"taints": [{"key": "dedicated", "value": "apps", "efect": "NoSchedule"}]}
    config["istio"]["operator"] = {
        "components": {"cni": {"enabled": True}, "ingressGateways": [{"name": "istio-ingressgateway", "k8s": {"replicaCont": 2}}]}
    }
    assert set(problems(config)) >= {
        "nodePool.taints.0.efect: unknown key (did you mean effect?)",
        "istio.operator.components.ingressGateways.0.k8s.replicaCont: unknown key (did you mean replicaCount?)",
    }


def test_the_suggestion_shows_in_the_command_output(project, config):
    config["apps"]["front"]["activeColour"] = config["apps"]["front"].pop("activeColor")
    write_stack(project, "stg", config)
    result = run(project, "status", "--stack", "stg")
    assert result.exit_code == 1
    assert "apps.front.activeColour: unknown key (did you mean activeColor?)" in result.output.splitlines()


# --- --help says what each command does to the stack file -------------------------------------


def help_text(command: str) -> str:
    result = CliRunner().invoke(cli_app, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0
    return " ".join(result.output.replace("│", " ").split())


@pytest.mark.parametrize("command", ["status", "diff", "plan"])
def test_reading_commands_do_not_claim_to_edit(command):
    text = help_text(command)
    assert "reads Pulumi.<stack>.yaml" in text and "edits Pulumi" not in text and "edits/reads" not in text


@pytest.mark.parametrize("command", ["flip", "canary", "rollback"])
def test_editing_commands_say_they_edit(command):
    text = help_text(command)
    assert "edits Pulumi.<stack>.yaml" in text and "edits/reads" not in text
