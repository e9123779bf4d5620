"""Drain safety: what a stopping pod does, the disruption budgets, and the DestinationRule's traffic policy."""

from __future__ import annotations

import json

import pytest

from components.app import drain, istio_routing, workload
from components.config import ConfigError, parse_stack_config
from tests.conftest import SHARED, find, load_tool

VALIDATOR = SHARED / "tools" / "validate_manifests.py"


def app_config(config, **drain_config):
    if drain_config:
        config["apps"]["front"]["drain"] = drain_config
    return parse_stack_config(config).apps["front"]


def pod(manifest):
    return manifest["spec"]["template"]


def proxy_config(template):
    return json.loads(template["metadata"]["annotations"]["proxy.istio.io/config"])


def test_default_drain_is_native_sidecar(config):
    template = pod(workload.deployment("front", app_config(config), "green"))
    container = template["spec"]["containers"][0]
    assert container["lifecycle"] == {"preStop": {"sleep": {"seconds": 10}}}
    assert template["spec"]["terminationGracePeriodSeconds"] == 45
    # A native sidecar exits after the app: terminationDrainDuration is unused, so it is not set.
    assert proxy_config(template) == {"holdApplicationUntilProxyStarts": True}
    assert template["metadata"]["annotations"]["sidecar.istio.io/nativeSidecar"] == "true"


def test_classic_sidecar_drains_until_the_app_has_stopped(config):
    cfg = app_config(config, sidecarMode="classic", preStopSeconds=20, appShutdownSeconds=10, terminationGracePeriodSeconds=90)
    template = pod(workload.deployment("front", cfg, "blue"))
    assert template["spec"]["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"] == 20
    assert template["spec"]["terminationGracePeriodSeconds"] == 90
    assert template["metadata"]["annotations"]["sidecar.istio.io/nativeSidecar"] == "false"
    # Default proxy drain: from the pod's termination start until the app stopped (preStop + shutdown).
    assert proxy_config(template)["terminationDrainDuration"] == "30s"
    explicit = app_config(config, sidecarMode="classic", proxyDrainSeconds=40, terminationGracePeriodSeconds=60)
    assert proxy_config(pod(workload.deployment("front", explicit, "blue")))["terminationDrainDuration"] == "40s"


@pytest.mark.parametrize(
    "timings, expected",
    [
        (
            {"preStopSeconds": 20, "appShutdownSeconds": 25, "terminationGracePeriodSeconds": 45},
            [
                "apps.front.drain.terminationGracePeriodSeconds: must be greater than preStopSeconds + appShutdownSeconds (45), "
                "leaving the native sidecar time to exit, got 45"
            ],
        ),
        (
            {"proxyDrainSeconds": 30},
            [
                "apps.front.drain.proxyDrainSeconds: applies only when sidecarMode is classic: a native sidecar drains in its "
                "own preStop and exits after the app"
            ],
        ),
        (
            # Accepted before: the classic proxy would stop as the app starts shutting down.
            {"sidecarMode": "classic", "preStopSeconds": 10, "proxyDrainSeconds": 10},
            [
                "apps.front.drain.proxyDrainSeconds: must be at least preStopSeconds + appShutdownSeconds (30): the classic "
                "sidecar stops that long after the pod starts terminating and must outlive the app, got 10"
            ],
        ),
        (
            {"sidecarMode": "classic", "proxyDrainSeconds": 50},
            [
                "apps.front.drain.terminationGracePeriodSeconds: must be greater than proxyDrainSeconds (50) and "
                "preStopSeconds + appShutdownSeconds (30), got 45"
            ],
        ),
        ({"sidecarMode": "ambient"}, ["apps.front.drain.sidecarMode: must be 'native' or 'classic', got 'ambient'"]),
        ({"preStopSeconds": 0}, ["apps.front.drain.preStopSeconds: must be between 1 and 120, got 0"]),
        ({"sleepSeconds": 5}, ["apps.front.drain.sleepSeconds: unknown key (did you mean preStopSeconds?)"]),
    ],
)
def test_drain_timings_are_validated(config, timings, expected):
    config["apps"]["front"]["drain"] = timings
    with pytest.raises(ConfigError) as err:
        parse_stack_config(config)
    assert err.value.problems == expected


def test_pods_spread_over_nodes_and_zones_per_color(config):
    spread = pod(workload.deployment("front", app_config(config), "green"))["spec"]["topologySpreadConstraints"]
    assert [(c["topologyKey"], c["whenUnsatisfiable"]) for c in spread] == [
        ("kubernetes.io/hostname", "DoNotSchedule"),
        ("topology.kubernetes.io/zone", "ScheduleAnyway"),
    ]
    for constraint in spread:
        assert constraint["labelSelector"] == {"matchLabels": {"app": "front", "version": "green"}}
        assert constraint["matchLabelKeys"] == ["pod-template-hash"]  # counted per rollout revision
        assert constraint["maxSkew"] == 1


def test_disruption_budget_per_color(config):
    pdb = drain.pod_disruption_budget("front", app_config(config), "blue")
    assert pdb["metadata"]["name"] == "front-blue"
    assert pdb["spec"] == {
        "maxUnavailable": 1,
        "selector": {"matchLabels": {"app": "front", "version": "blue"}},
        "unhealthyPodEvictionPolicy": "AlwaysAllow",
    }


def test_disruption_budgets_follow_deployments_not_the_active_color(run_stack, config):
    before = run_stack(config)
    config["apps"]["front"]["activeColor"] = "green"
    config["apps"]["front"]["blue"]["replicas"] = 0  # scaled down explicitly, after the flip
    after = run_stack(config)
    for color in ("blue", "green"):
        assert find(after, ":PodDisruptionBudget", f"front-{color}").inputs == find(before, ":PodDisruptionBudget", f"front-{color}").inputs
    del config["apps"]["front"]["blue"]
    assert [r.name for r in run_stack(config).resources if r.type.endswith(":PodDisruptionBudget")] == ["front-green"]


def test_destination_rule_ejects_failing_pods_and_bounds_connections(config):
    policy = istio_routing.destination_rule("front", app_config(config))["spec"]["trafficPolicy"]
    assert policy["tls"] == {"mode": "ISTIO_MUTUAL"}
    assert policy["outlierDetection"]["consecutiveGatewayErrors"] == 3
    assert policy["outlierDetection"]["maxEjectionPercent"] == 50  # never a whole color
    assert policy["connectionPool"]["tcp"]["connectTimeout"] == "2s"
    assert policy["connectionPool"]["http"]["http1MaxPendingRequests"] == 1024


@pytest.mark.skipif(not VALIDATOR.exists(), reason="../shared is not present")
def test_drain_manifests_validate_against_kubernetes_and_istio_schemas(config):
    tool = load_tool(VALIDATOR)
    cfg = app_config(config)
    manifests = [
        workload.deployment("front", cfg, "blue"),
        drain.pod_disruption_budget("front", cfg, "blue"),
        istio_routing.destination_rule("front", cfg),
    ]
    for manifest in manifests:
        assert tool.check(manifest, "1.33") == ("ok", []), manifest["kind"]
    # The check is real: a field Istio does not declare fails it.
    manifests[2]["spec"]["trafficPolicy"]["outlierDetection"]["ejectAfter"] = "1s"
    assert tool.check(manifests[2], "1.33")[0] == "error"
