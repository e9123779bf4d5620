"""Pulumi.local.yaml through the real engine, on live objects: first up, no drift, plan parity, flip,
canary, the switch gate (readiness and real-Prometheus metrics), the policy pack, bad input, destroy.
The tests run in order on one stack, as a user would."""

from __future__ import annotations

import subprocess
import time

import pytest
import yaml
from pulumi import automation as auto

from tests.app.test_promotion_prometheus import (
    prometheus,  # noqa: F401  (the real Prometheus fixture)
)
from tests.conftest import ROOT
from tests.e2e.harness import (
    LocalStack,
    is_subset,
    kubectl_json,
    last_applied,
    live_weights,
)

APPS = {"front": "app", "api": "api"}  # app -> namespace, as in Pulumi.local.yaml
ACTIVE = {"front": "blue", "api": "green"}
# The pack, started from a file (see policy_pack.sh); the rules are policies/ as in CI.
POLICY_PACK = [str(ROOT / "tests" / "e2e" / "policy_pack.sh")]
POLICY_CONFIG = [str(ROOT / "policies" / "config" / "local.json")]
GATE = "pulumi-python:dynamic:SwitchGate"


@pytest.fixture(scope="module", autouse=True)
def existing_mesh(env):
    """istio.mode existing: the mesh's namespace is there before the stack (its CRDs come with make e2e-env)."""
    subprocess.run(["kubectl", "create", "namespace", "istio-system"], env=env, capture_output=True)


def timed(label: str, action):
    start = time.monotonic()
    result = action()
    print(f"\n{label}: {time.monotonic() - start:.1f}s")
    return result


def deployments(env) -> dict[str, dict]:
    found = {}
    for namespace in set(APPS.values()):
        for item in kubectl_json(env, "get", "deployments", "-n", namespace)["items"]:
            found[item["metadata"]["name"]] = item
    return found


def test_first_up_makes_every_deployment_available_and_routes_to_the_active_color(local_stack: LocalStack, env):
    result, steps = timed("first pulumi up", local_stack.up)
    assert result.summary.result == "succeeded"
    assert steps.ops["create"] > 20 and not steps.ops["delete"]
    live = deployments(env)
    assert sorted(live) == sorted(f"{app}-{color}" for app in APPS for color in ("blue", "green"))
    for name, deployment in live.items():
        status = deployment["status"]
        available = {c["type"]: c["status"] for c in status.get("conditions", [])}.get("Available")
        assert available == "True" and status.get("availableReplicas") == deployment["spec"]["replicas"], name
    for app, namespace in APPS.items():
        assert live_weights(env, namespace, app) == {ACTIVE[app]: 100}


def test_front_may_call_api_across_namespaces_on_the_live_policies(env):
    """Pulumi.local.yaml's front (namespace app) calls api (namespace api): both policies admit it."""
    netpol = kubectl_json(env, "get", "networkpolicy", "api-callers", "-n", "api")["spec"]
    selected = [
        e["values"]
        for rule in netpol["ingress"]
        for peer in rule["from"]
        for e in peer.get("namespaceSelector", {}).get("matchExpressions", [])
        if e["key"] == "kubernetes.io/metadata.name"
    ]
    assert selected == [["api", "app"]]
    authz = kubectl_json(env, "get", "authorizationpolicies.security.istio.io", "api-callers", "-n", "api")["spec"]
    assert authz["action"] == "ALLOW"
    assert [f["source"]["namespaces"] for rule in authz["rules"] for f in rule["from"]] == [["api", "app", "istio-system"]]


def test_no_drift_right_after_up(local_stack: LocalStack):
    timed("preview --expect-no-changes", lambda: local_stack.stack.preview(expect_no_changes=True))
    timed("refresh --expect-no-changes", lambda: local_stack.stack.refresh(expect_no_changes=True))


def test_offline_plan_is_what_pulumi_up_sent(env):
    subprocess.run(
        [str(ROOT / "venv" / "bin" / "python"), "-m", "cli", "plan", "--stack", "local"], cwd=ROOT, check=True, capture_output=True
    )
    differences, compared = [], 0
    for manifest in sorted((ROOT / "build" / "local" / "manifests").glob("*.yaml")):
        planned = yaml.safe_load(manifest.read_text())
        meta = planned["metadata"]
        where = ["-n", meta["namespace"]] if "namespace" in meta else []
        live = kubectl_json(
            env,
            "get",
            f"{planned['kind'].lower()}.{planned['apiVersion'].split('/')[0]}" if "/" in planned["apiVersion"] else planned["kind"].lower(),
            meta["name"],
            *where,
        )
        for key in ("spec", "data"):
            if key in planned:
                differences += is_subset(planned[key], live.get(key), f"{manifest.name}:{key}")
        differences += is_subset(meta.get("labels", {}), live["metadata"].get("labels", {}), f"{manifest.name}:labels")
        compared += 1
    assert compared >= 25 and differences == []


def test_flip_updates_only_routing_then_rollback(local_stack: LocalStack, env):
    local_stack.set_path("apps.front.activeColor", "green")
    preview, steps = timed("flip preview", local_stack.preview)
    updated = {t: dict(ops) for t, ops in steps.by_type.items() if ops["update"]}
    print(f"flip preview: {preview.change_summary}; updated: {updated}")
    assert preview.change_summary == {"same": preview.change_summary["same"], "update": 3}  # no create, delete, replace
    assert steps.ops["update"] == 3
    changed = {t for t, ops in steps.by_type.items() if set(ops) - {"same"}}
    assert changed == {"kubernetes:networking.istio.io/v1:VirtualService", "kubernetes:core/v1:ConfigMap", GATE}
    before = {name: d["metadata"]["generation"] for name, d in deployments(env).items()}
    timed("flip pulumi up", local_stack.up)
    assert live_weights(env, "app", "front") == {"green": 100}
    assert {name: d["metadata"]["generation"] for name, d in deployments(env).items()} == before  # no pod restarts
    local_stack.set_path("apps.front.activeColor", "blue")
    timed("rollback pulumi up", local_stack.up)
    assert live_weights(env, "app", "front") == {"blue": 100}


def test_canary_weights_follow_config(local_stack: LocalStack, env):
    local_stack.set_path("apps.front.canaryWeight", "25")
    local_stack.up()
    assert live_weights(env, "app", "front") == {"blue": 75, "green": 25}
    local_stack.set_path("apps.front.canaryWeight", "0")
    local_stack.up()
    assert live_weights(env, "app", "front") == {"blue": 100}


def test_switch_gate_refuses_a_color_scaled_to_zero_by_hand(local_stack: LocalStack, env):
    """The Deployment is unchanged in config, so pulumi-kubernetes would not re-check it: the gate does."""
    local_stack.set_path("apps.front.readinessTimeout", "10s")
    local_stack.up()
    subprocess.run(["kubectl", "scale", "deployment", "front-green", "-n", "app", "--replicas", "0"], env=env, check=True)
    local_stack.set_path("apps.front.activeColor", "green")
    with pytest.raises(auto.CommandError) as refused:
        local_stack.up()
    assert "front: routing not changed: green has 0 of 2 replicas available" in str(refused.value)
    assert live_weights(env, "app", "front") == {"blue": 100}
    subprocess.run(["kubectl", "scale", "deployment", "front-green", "-n", "app", "--replicas", "2"], env=env, check=True)
    timed("flip once green is ready again", local_stack.up)
    assert live_weights(env, "app", "front") == {"green": 100}
    local_stack.set_path("apps.front.activeColor", "blue")
    local_stack.up()
    assert live_weights(env, "app", "front") == {"blue": 100}


def test_promotion_analysis_against_real_prometheus(local_stack: LocalStack, env, prometheus):  # noqa: F811
    """Synthetic Istio metrics: green is healthy, blue is not (tests/istio_exporter.py)."""
    for key, value in {"prometheusUrl": prometheus.url, "window": "30s"}.items():
        local_stack.set_path(f"apps.front.promotion.analysis.{key}", value)
    local_stack.up()  # the gate now carries the analysis; no color gains share, so nothing is measured
    local_stack.set_path("apps.front.activeColor", "green")
    timed("flip through the metrics gate", local_stack.up)
    assert live_weights(env, "app", "front") == {"green": 100}
    local_stack.set_path("apps.front.activeColor", "blue")
    with pytest.raises(auto.CommandError) as refused:
        local_stack.up()
    assert "success rate" in str(refused.value) and "below minSuccessRate" in str(refused.value)
    assert live_weights(env, "app", "front") == {"green": 100}  # routing stayed where it was
    local_stack.cli("config", "rm", "--path", "bluegreen-platform:apps.front.promotion", "--stack", local_stack.name)
    local_stack.up()
    assert live_weights(env, "app", "front") == {"blue": 100}


def test_flip_and_scale_down_in_one_up_waits_the_delay_after_the_routing_change(local_stack: LocalStack, env):
    delay = 10
    local_stack.set_path("apps.front.drain.scaleDownDelaySeconds", str(delay))
    local_stack.up()
    local_stack.set_path("apps.front.activeColor", "green")
    local_stack.set_path("apps.front.blue.replicas", "0")
    timed("flip and scale-down in one up", local_stack.up)
    assert live_weights(env, "app", "front") == {"green": 100}
    assert kubectl_json(env, "get", "deployment", "front-blue", "-n", "app")["spec"]["replicas"] == 0
    routing_changed = last_applied(env, "virtualservices.networking.istio.io", "front", "app")
    scaled_down = last_applied(env, "deployment", "front-blue", "app")
    gap = (scaled_down - routing_changed).total_seconds()
    print(f"scale-down {gap:.0f}s after the VirtualService update (delay {delay}s; managedFields have 1 s resolution)")
    assert gap >= delay - 1
    local_stack.set_path("apps.front.blue.replicas", "2")  # the way back: scale up first, then flip
    local_stack.up()
    local_stack.set_path("apps.front.activeColor", "blue")
    local_stack.up()
    assert live_weights(env, "app", "front") == {"blue": 100}


def test_policy_pack_passes_and_refuses_an_under_provisioned_flip(local_stack: LocalStack, env):
    timed("preview with the policy pack", lambda: local_stack.stack.preview(policy_packs=POLICY_PACK, policy_pack_configs=POLICY_CONFIG))
    local_stack.set_path("apps.front.green.replicas", "1")
    local_stack.set_path("apps.front.activeColor", "green")
    with pytest.raises(auto.CommandError) as refused:
        local_stack.stack.preview(policy_packs=POLICY_PACK, policy_pack_configs=POLICY_CONFIG)
    assert "flip-target-provisioned" in str(refused.value)
    assert "the active color green has 1 replicas while blue still runs 2" in str(refused.value)
    local_stack.set_path("apps.front.activeColor", "blue")
    local_stack.set_path("apps.front.green.replicas", "2")


def test_invalid_config_changes_nothing(local_stack: LocalStack, env):
    before = kubectl_json(env, "get", "virtualservices.networking.istio.io", "front", "-n", "app")["metadata"]["resourceVersion"]
    local_stack.set_path("apps.front.canaryWeight", "150")
    for command in (local_stack.stack.preview, local_stack.stack.up):
        with pytest.raises(auto.CommandError) as failed:
            command()
        assert "apps.front.canaryWeight: must be between 0 and 99, got 150" in str(failed.value)
        assert "Traceback" not in str(failed.value)
    after = kubectl_json(env, "get", "virtualservices.networking.istio.io", "front", "-n", "app")["metadata"]["resourceVersion"]
    assert after == before
    local_stack.set_path("apps.front.canaryWeight", "0")


def test_destroy_removes_everything(local_stack: LocalStack, env):
    timed("pulumi destroy", local_stack.stack.destroy)
    for namespace in set(APPS.values()):
        gone = subprocess.run(["kubectl", "get", "namespace", namespace, "-o", "name"], env=env, capture_output=True, text=True)
        terminating = gone.returncode == 0 and kubectl_json(env, "get", "namespace", namespace)["status"].get("phase") == "Terminating"
        assert gone.returncode != 0 or terminating, f"namespace {namespace} still there"
    leftovers = subprocess.run(
        [
            "kubectl",
            "get",
            "virtualservices.networking.istio.io,gateways.networking.istio.io,authorizationpolicies.security.istio.io",
            "-A",
            "-l",
            "app.kubernetes.io/managed-by=pulumi",
            "-o",
            "name",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert leftovers == []
