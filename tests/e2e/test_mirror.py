"""Traffic mirroring through the real engine, on the live VirtualService: on, changed, checked by the policy
pack, refused when the idle color cannot take the copies, and off again.

The stack is `mirror`, one app `shadow` in its own namespaces (nothing shared with Pulumi.local.yaml's stack,
so both can live on the e2e cluster), destroyed at the end.
"""

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
VIRTUAL_SERVICE = "kubernetes:networking.istio.io/v1:VirtualService"
HOST = "shadow.shadow.svc.cluster.local"


def mirror_stack_file(path) -> None:
    """Pulumi.local.yaml's cluster and mesh, with its front app renamed `shadow` in namespace `shadow`."""
    document = yaml.safe_load((ROOT / "Pulumi.local.yaml").read_text())
    config = document["config"]
    app = copy.deepcopy(config[f"{PROJECT}:apps"]["front"])
    app.update(namespace="shadow", hosts=["shadow.local.example.com"], mirror={"percent": 10})
    config[f"{PROJECT}:gateway"] = {"name": "shadow-gateway", "namespace": "shadow", "hosts": ["shadow.local.example.com"]}
    config[f"{PROJECT}:apps"] = {"shadow": app}
    path.write_text(yaml.safe_dump(document, sort_keys=False))


@pytest.fixture(scope="module")
def mirror_stack(env, tmp_path_factory):
    subprocess.run(["kubectl", "create", "namespace", "istio-system"], env=env, capture_output=True, check=False)  # istio.mode existing
    stack_file = tmp_path_factory.mktemp("stackfile") / "Pulumi.mirror.yaml"
    mirror_stack_file(stack_file)
    stack = LocalStack(tmp_path_factory.mktemp("project"), "mirror", env, stack_file)
    yield stack
    stack.stack.destroy()
    stack.cli("stack", "rm", "--yes", "mirror", check=False)


def live_default_route(env) -> dict:
    return kubectl_json(env, "get", "virtualservices.networking.istio.io", "shadow", "-n", "shadow")["spec"]["http"][-1]


def test_up_renders_the_mirror_on_the_live_default_route(mirror_stack: LocalStack, env):
    result, _ = mirror_stack.up()
    assert result.summary.result == "succeeded"
    default = live_default_route(env)
    assert default["mirror"] == {"host": HOST, "subset": "green", "port": {"number": 8080}}
    assert default["mirrorPercentage"] == {"value": 10}
    assert live_weights(env, "shadow", "shadow") == {"blue": 100}  # the copies take no share
    mirror_stack.stack.preview(expect_no_changes=True)


def test_a_fractional_percent_updates_only_the_virtual_service(mirror_stack: LocalStack, env):
    mirror_stack.set_path("apps.shadow.mirror.percent", "0.5")
    preview, steps = mirror_stack.preview()
    changed = {t for t, ops in steps.by_type.items() if set(ops) - {"same"}}
    assert changed == {VIRTUAL_SERVICE} and preview.change_summary.get(auto.OpType.UPDATE) == 1
    mirror_stack.up()
    assert live_default_route(env)["mirrorPercentage"] == {"value": 0.5}
    mirror_stack.stack.preview(expect_no_changes=True)


def test_policy_pack_passes_the_mirror(mirror_stack: LocalStack):
    mirror_stack.stack.preview(policy_packs=POLICY_PACK, policy_pack_configs=POLICY_CONFIG)


def test_a_mirror_to_an_idle_color_without_pods_is_refused_before_anything_changes(mirror_stack: LocalStack, env):
    before = kubectl_json(env, "get", "virtualservices.networking.istio.io", "shadow", "-n", "shadow")["metadata"]["resourceVersion"]
    mirror_stack.set_path("apps.shadow.green.replicas", "0")
    with pytest.raises(auto.CommandError) as refused:
        mirror_stack.stack.up()
    message = str(refused.value)
    assert "apps.shadow.mirror: copies traffic to the idle color green, which has no pods (green.replicas is 0)" in message
    assert "Traceback" not in message
    after = kubectl_json(env, "get", "virtualservices.networking.istio.io", "shadow", "-n", "shadow")["metadata"]["resourceVersion"]
    assert after == before
    mirror_stack.set_path("apps.shadow.green.replicas", "2")


def test_removing_the_mirror_removes_it_from_the_live_route(mirror_stack: LocalStack, env):
    mirror_stack.cli("config", "rm", "--path", f"{PROJECT}:apps.shadow.mirror", "--stack", mirror_stack.name)
    _, steps = mirror_stack.up()
    assert {t for t, ops in steps.by_type.items() if set(ops) - {"same"}} == {VIRTUAL_SERVICE}
    default = live_default_route(env)
    assert "mirror" not in default and "mirrorPercentage" not in default
