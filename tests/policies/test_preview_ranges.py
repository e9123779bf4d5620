"""Issue 19.6: `preview-ranges-narrow`, a preview gate never admits the whole internet unless allowed explicitly."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli.__main__ import app as cli_app
from policies.guardrails.model import Resource
from tests.policies.test_rules import messages
from tests.policy_records import k8s
from tests.stackfiles import copy_program, write_stack

RULE = "preview-ranges-narrow"


def gate(*ranges: str, action: str = "DENY") -> Resource:
    key = "notRemoteIpBlocks" if action == "DENY" else "remoteIpBlocks"
    props = {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "front-preview", "namespace": "istio-system"},
        "spec": {"action": action, "rules": [{"from": [{"source": {key: list(ranges)}}], "to": [{"operation": {"hosts": ["front"]}}]}]},
    }
    return k8s("kubernetes:security.istio.io/v1:AuthorizationPolicy", props, "stg")


def test_narrow_ranges_pass():
    assert messages(RULE, [gate("203.0.113.0/24", "10.0.0.0/8", "2001:db8::/48")]) == []


@pytest.mark.parametrize(
    "block, why",
    [
        ("0.0.0.0/0", " (the whole internet)"),
        ("::/0", " (the whole internet)"),
        ("0.0.0.0/1", ""),
        ("10.0.0.0/7", ""),
        ("2001:db8::/16", ""),
    ],
)
def test_wide_ranges_fail(block, why):
    shortest = 8 if "." in block else 32
    assert messages(RULE, [gate("203.0.113.0/24", block)]) == [
        f"AuthorizationPolicy istio-system/front-preview admits {block}{why}, wider than /{shortest}: list the testers' own "
        "networks in preview.allowedSourceRanges, or allow this range explicitly (pack config allowedRanges)"
    ]


def test_an_allow_policy_is_judged_by_the_ranges_it_allows():
    assert len(messages(RULE, [gate("0.0.0.0/0", action="ALLOW")])) == 1


def test_the_limit_is_configurable_and_a_range_can_be_allowed_explicitly():
    assert len(messages(RULE, [gate("10.0.0.0/8")], minPrefixLengthIpv4=16)) == 1
    assert messages(RULE, [gate("0.0.0.0/0")], allowedRanges=["0.0.0.0/0"]) == []


def test_a_guarded_edit_of_a_stack_open_to_the_internet_is_refused(tmp_path, config):
    config["apps"]["front"]["preview"]["allowedSourceRanges"] = ["0.0.0.0/0"]
    copy_program(tmp_path)
    path = write_stack(tmp_path, "stg", config)
    before = path.read_text()
    result = CliRunner().invoke(cli_app, ["canary", "--app", "front", "--weight", "10", "--stack", "stg", "--root", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert result.output.count("[mandatory] preview-ranges-narrow (AuthorizationPolicy front-preview-gate)") == 1, result.output
    assert "admits 0.0.0.0/0 (the whole internet)" in result.output
    assert path.read_text() == before
