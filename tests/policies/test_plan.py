"""The pack inside `make plan`: default stacks pass clean, a bad stack fails the plan like preview would."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cli.commands import app as cli_app
from cli.commands import plan as plan_command
from cli.engine.plan import Plan, run_plan
from cli.engine.policy_check import check, records, run
from cli.stackfile.read import read_stack_config
from policies.guardrails.catalog import rule
from policies.guardrails.evaluate import evaluate
from policies.guardrails.model import PEER_AUTHENTICATION, VIRTUAL_SERVICE, Stack
from policies.guardrails.nodepool import NODE_POOL
from policies.guardrails.routing import Routes
from tests.conftest import PROJECT, ROOT

_plans: dict[str, Plan] = {}


def plan_of(stack: str) -> Plan:
    if stack not in _plans:
        _plans[stack] = run_plan(stack)
    return _plans[stack]


@pytest.mark.parametrize("stack", ["stg", "prod"])
def test_default_stacks_have_zero_violations(stack):
    assert check(stack, plan_of(stack).recording) == []


def test_rules_read_the_shapes_the_program_registers():
    """Zero violations must come from checks that matched something, not from rules that saw nothing."""
    stack = Stack(records(plan_of("stg").recording))
    services = stack.of(VIRTUAL_SERVICE)
    prefix = rule("preview-never-active").defaults()["previewRoutePrefix"]
    assert all(any(str(r.get("name", "")).startswith(prefix) for r in vs.spec["http"]) for vs in services)
    config, _ = read_stack_config(ROOT / "Pulumi.stg.yaml", PROJECT)
    declared = {name: app["activeColor"] for name, app in yaml.safe_load(config[f"{PROJECT}:apps"]).items()}
    assert {vs.k8s_name: Routes(stack).active_color(vs) for vs in services} == declared
    assert stack.of(PEER_AUTHENTICATION) and [r for r in stack.resources if r.type == NODE_POOL]


def test_rules_bite_on_the_real_stack():
    resources = records(plan_of("stg").recording)
    no_mtls = [r for r in resources if not r.is_a(PEER_AUTHENTICATION)]
    assert {f.policy for f in evaluate(no_mtls, {})} == {"mesh-strict-mtls"}
    undeployed = [r for r in resources if r.k8s_name != "front-green"]
    assert "routing-safety" in {f.policy for f in evaluate(undeployed, {})}


def bad_stack_root(tmp_path: Path) -> Path:
    """A copy of the project whose `bad` stack is stg with a flip to an under-provisioned, and a `latest` image."""
    tmp_path.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    stack = yaml.safe_load((ROOT / "Pulumi.stg.yaml").read_text())
    front = stack["config"][f"{PROJECT}:apps"]["front"]
    front.update(activeColor="green", canaryWeight=0)
    front["blue"] = {"image": "asia-docker.pkg.dev/acme/web/front:latest", "replicas": 3}
    front["green"] = {"image": "asia-docker.pkg.dev/acme/web/front:1.5.0", "replicas": 1}
    (tmp_path / "Pulumi.bad.yaml").write_text(yaml.safe_dump(stack))
    return tmp_path


def test_bad_stack_fails_the_plan_but_keeps_the_manifests(tmp_path, monkeypatch):
    root = bad_stack_root(tmp_path / "project")
    monkeypatch.setattr(plan_command, "run_plan", lambda stack: run_plan(stack, root))
    out = tmp_path / "out"
    result = CliRunner().invoke(cli_app, ["plan", "--stack", "bad", "--out", str(out)], terminal_width=200)
    assert result.exit_code == 1, result.output
    assert "[mandatory]  bluegreen-guardrails v0.1.0  flip-target-provisioned" in result.output
    assert "the active color green has 1 replicas while blue still runs 3" in result.output
    assert "[advisory]  bluegreen-guardrails v0.1.0  image-pinned (kubernetes:apps/v1:Deployment: front-blue)" in result.output
    assert "policy check failed" in result.output
    assert (out / "manifests" / "deployment-app-front-green.yaml").exists()


def test_advisory_violations_alone_do_not_fail_the_plan(tmp_path, monkeypatch):
    root = bad_stack_root(tmp_path / "project")
    monkeypatch.setattr(plan_command, "run_plan", lambda stack: run_plan(stack, root))
    config = tmp_path / "relaxed.json"
    config.write_text('{"flip-target-provisioned": {"minActiveReplicaRatio": 0.3}}')
    result = CliRunner().invoke(
        cli_app, ["plan", "--stack", "bad", "--out", str(tmp_path / "out"), "--policy-config", str(config)], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    assert "[advisory]" in result.output and "[mandatory]" not in result.output


def test_plan_fails_on_a_missing_or_invalid_pack_config(tmp_path):
    recording = plan_of("stg").recording
    assert run("stg", recording, tmp_path / "absent.json") == (f"policy pack config {tmp_path / 'absent.json'} not found", False)
    bad = tmp_path / "bad.json"
    bad.write_text('{"pod-probes": {"enforcementLevel": "mandatory", "probes": 2}}')
    text, passed = run("stg", recording, bad)
    assert not passed and text == f"invalid policy pack config {bad}: pod-probes.probes: unknown property (known: none)"
    assert run("stg", recording) == (
        "policy pack config: policies/config/stg.json\nPolicies: bluegreen-guardrails@v0.1.0: 22 policies, no violations",
        True,
    )
