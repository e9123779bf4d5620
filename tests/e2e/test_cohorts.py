"""A/B cohorts through the real engine, on the live VirtualService: on (header and cookie routes ahead of the split,
the switch gate run for the cohorts' color), checked by the policy pack, a catch-all cohort refused, and off again.

The stack is `cohorts`, one app `ab` in its own namespace (nothing shared with the other e2e stacks), destroyed
at the end."""

from __future__ import annotations

import copy
import subprocess

import pytest
import yaml
from pulumi import automation as auto

from tests.conftest import ROOT
from tests.e2e.harness import LocalStack, kubectl_json, live_weights

PROJECT = "bluegreen-platform"
POLICY_PACK = [str(ROOT / "tests" / "e2e" / "policy_pack.sh")]
POLICY_CONFIG = [str(ROOT / "policies" / "config" / "local.json")]
SWITCH_GATE = "pulumi-python:dynamic:SwitchGate"
VIRTUAL_SERVICE = "kubernetes:networking.istio.io/v1:VirtualService"
COHORTS = [{"header": {"name": "x-beta", "value": "true"}}, {"cookie": {"name": "beta", "prefix": "int-"}}]


def cohorts_stack_file(path) -> None:
    """Pulumi.local.yaml's cluster and mesh, with its front app renamed `ab` in namespace `ab`, cohorts on."""
    document = yaml.safe_load((ROOT / "Pulumi.local.yaml").read_text())
    config = document["config"]
    app = copy.deepcopy(config[f"{PROJECT}:apps"]["front"])
    app.pop("mirror", None)
    app.update(namespace="ab", hosts=["ab.local.example.com"], cohorts=COHORTS, cohortsActive=True)
    config[f"{PROJECT}:gateway"] = {"name": "ab-gateway", "namespace": "ab", "hosts": ["ab.local.example.com"]}
    config[f"{PROJECT}:apps"] = {"ab": app}
    path.write_text(yaml.safe_dump(document, sort_keys=False))


@pytest.fixture(scope="module")
def cohorts_stack(env, tmp_path_factory):
    subprocess.run(["kubectl", "create", "namespace", "istio-system"], env=env, capture_output=True, check=False)  # istio.mode existing
    stack_file = tmp_path_factory.mktemp("stackfile") / "Pulumi.cohorts.yaml"
    cohorts_stack_file(stack_file)
    stack = LocalStack(tmp_path_factory.mktemp("project"), "cohorts", env, stack_file)
    yield stack
    stack.stack.destroy()
    stack.cli("stack", "rm", "--yes", "cohorts", check=False)


def live_http(env) -> list[dict]:
    return kubectl_json(env, "get", "virtualservices.networking.istio.io", "ab", "-n", "ab")["spec"]["http"]


def test_up_puts_the_cohort_routes_ahead_of_the_live_split(cohorts_stack: LocalStack, env):
    result, _ = cohorts_stack.up()
    assert result.summary.result == "succeeded"
    by_name = {route["name"]: route for route in live_http(env)}
    names = [route["name"] for route in live_http(env)]
    assert names[-3:] == ["cohort-1", "cohort-2", "default"]
    assert by_name["cohort-1"]["match"] == [{"headers": {"x-beta": {"exact": "true"}}}]
    assert by_name["cohort-2"]["match"][0]["headers"]["cookie"]["regex"] == r"^(.*?;\s*)?beta=(int\-[^;]*)(;.*)?$"
    assert [d["destination"]["subset"] for d in by_name["cohort-1"]["route"]] == ["green"]
    assert live_weights(env, "ab", "ab") == {"blue": 100}  # the split is untouched
    cohorts_stack.stack.preview(expect_no_changes=True)


def test_policy_pack_passes_narrow_cohorts(cohorts_stack: LocalStack):
    cohorts_stack.stack.preview(policy_packs=POLICY_PACK, policy_pack_configs=POLICY_CONFIG)


def test_policy_pack_refuses_a_catch_all_cohort(cohorts_stack: LocalStack):
    cohorts_stack.cli("config", "rm", "--path", f"{PROJECT}:apps.ab.cohorts[0].header.value", "--stack", cohorts_stack.name)
    cohorts_stack.set_path("apps.ab.cohorts[0].header.name", "user-agent")
    cohorts_stack.set_path("apps.ab.cohorts[0].header.regex", ".*")
    with pytest.raises(auto.CommandError) as refused:
        cohorts_stack.stack.preview(policy_packs=POLICY_PACK, policy_pack_configs=POLICY_CONFIG)
    assert "cohorts-are-a-subset" in str(refused.value) and "matches any user-agent header" in str(refused.value)
    cohorts_stack.cli("config", "rm", "--path", f"{PROJECT}:apps.ab.cohorts[0].header.regex", "--stack", cohorts_stack.name)
    cohorts_stack.set_path("apps.ab.cohorts[0].header.name", "x-beta")
    # `--type string`: without it `config set --path` stores `true` as a boolean, which a header value is not.
    cohorts_stack.cli(
        "config", "set", "--path", f"{PROJECT}:apps.ab.cohorts[0].header.value", "true", "--type", "string", "--stack", cohorts_stack.name
    )


def test_cohorts_off_removes_the_routes_and_runs_the_gate(cohorts_stack: LocalStack, env):
    cohorts_stack.cli("config", "rm", "--path", f"{PROJECT}:apps.ab.cohortsActive", "--stack", cohorts_stack.name)
    _, steps = cohorts_stack.up()
    changed = {t for t, ops in steps.by_type.items() if set(ops) - {"same"}}
    assert {VIRTUAL_SERVICE, SWITCH_GATE} <= changed
    assert not [route for route in live_http(env) if route["name"].startswith("cohort")]
