"""apps.<name>.autoscaling: its config, the HPA and Deployment manifests, the switch gate's load check against a
fake AppsV1Api, and the wiring under the mock engine (the real HPA controller: tests/e2e/test_autoscaling.py)."""

from __future__ import annotations

import pytest
from kubernetes.client.exceptions import ApiException

from components.app import workload
from components.app.autoscaling import horizontal_pod_autoscaler, share_needs
from components.app.switch_gate import SwitchRefused
from components.config import ConfigError, parse_stack_config
from components.shared import k8s
from tests.app.test_switch_gate import FakeApps, FakeClock, FakeClusterProvider, deployment, gate_props, outs_of
from tests.conftest import find

AUTOSCALING = {"minReplicas": 1, "maxReplicas": 6, "targetCPUUtilization": 70}


def autoscaled(config, **autoscaling):
    front = config["apps"]["front"]
    for color in ("blue", "green"):
        front[color].pop("replicas", None)
    front["autoscaling"] = {**AUTOSCALING, **autoscaling}
    return config


def app(config):
    return parse_stack_config(config).apps["front"]


def problems(config) -> str:
    with pytest.raises(ConfigError) as err:
        parse_stack_config(config)
    return str(err.value)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# --- config ---------------------------------------------------------------------------------------


def test_autoscaling_is_read_with_defaults_and_floors(config):
    cfg = app(autoscaled(config, floors={"green": 4}))
    assert cfg.autoscaling is not None
    assert (cfg.autoscaling.min_replicas, cfg.autoscaling.max_replicas, cfg.autoscaling.target_cpu_utilization) == (1, 6, 70)
    assert (cfg.hpa_floor("blue"), cfg.hpa_floor("green")) == (1, 4)
    config["apps"]["front"]["autoscaling"] = {"maxReplicas": 5}
    cfg = app(config)
    assert cfg.autoscaling is not None and (cfg.autoscaling.min_replicas, cfg.autoscaling.target_cpu_utilization) == (2, 80)


def test_without_autoscaling_a_color_has_no_hpa_floor(config):
    cfg = app(config)
    assert cfg.autoscaling is None and cfg.hpa_floor("blue") is None and cfg.replica_floor("blue") == cfg.blue.replicas


@pytest.mark.parametrize(
    ("autoscaling", "message"),
    [
        ({"minReplicas": 5, "maxReplicas": 3}, "apps.front.autoscaling.maxReplicas: must be at least minReplicas (5), got 3"),
        ({"minReplicas": 0, "maxReplicas": 3}, "apps.front.autoscaling.minReplicas: must be between 1 and 1000, got 0"),
        ({"minReplicas": 1}, "apps.front.autoscaling.maxReplicas: "),
        ({"maxReplicas": 3, "targetCPUUtilization": 0}, "apps.front.autoscaling.targetCPUUtilization: must be between 1 and 100, got 0"),
        ({"maxReplicas": 3, "floors": {"green": 4}}, "apps.front.autoscaling.floors.green: must be at most maxReplicas (3)"),
        ({"maxReplicas": 3, "floors": {"red": 2}}, "apps.front.autoscaling.floors.red"),
        ({"maxReplicas": 3, "targetCpu": 50}, "apps.front.autoscaling.targetCpu"),
    ],
)
def test_invalid_autoscaling_is_rejected_by_key_path(config, autoscaling, message):
    config["apps"]["front"]["autoscaling"] = autoscaling
    for color in ("blue", "green"):
        config["apps"]["front"][color].pop("replicas", None)
    text = problems(config)
    assert message in text and "Traceback" not in text


def test_a_color_count_next_to_autoscaling_is_rejected_except_zero(config):
    config["apps"]["front"]["autoscaling"] = AUTOSCALING
    config["apps"]["front"]["green"]["replicas"] = 3
    config["apps"]["front"]["blue"].pop("replicas", None)
    assert "apps.front.green.replicas: is set by green's HPA while autoscaling is on" in problems(config)
    config["apps"]["front"]["green"]["replicas"] = 0  # scaled down: allowed, and no HPA
    assert app(config).hpa_floor("green") is None


# --- manifests ------------------------------------------------------------------------------------


def test_each_color_gets_an_autoscaling_v2_hpa_on_cpu(config):
    hpa = horizontal_pod_autoscaler("front", app(autoscaled(config, floors={"green": 3})), "green")
    assert (hpa["apiVersion"], hpa["kind"], hpa["metadata"]["name"], hpa["metadata"]["namespace"]) == (
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        "front-green",
        "app",
    )
    spec = hpa["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "front-green"}
    assert (spec["minReplicas"], spec["maxReplicas"]) == (3, 6)
    assert spec["metrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}
    ]


def test_an_autoscaled_deployment_leaves_replicas_to_its_hpa(config):
    plain = workload.deployment("front", app(config), "blue")
    assert plain["spec"]["replicas"] == 3 and "annotations" not in plain["metadata"]
    manifest = workload.deployment("front", app(autoscaled(config)), "blue")
    assert "replicas" not in manifest["spec"] and "annotations" not in manifest["metadata"]
    assert {k: v for k, v in plain["spec"].items() if k != "replicas"} == manifest["spec"]


def test_a_color_scaled_to_zero_takes_its_replicas_back_from_the_hpa_controller(config):
    config = autoscaled(config)
    config["apps"]["front"]["green"]["replicas"] = 0
    manifest = workload.deployment("front", app(config), "green")
    assert manifest["spec"]["replicas"] == 0
    # Applied with force like every object (components/shared/k8s.py): Pulumi takes the field back from the HPA controller.
    assert k8s.owned(manifest)["metadata"]["annotations"] == {"pulumi.com/patchForce": "true"}


@pytest.mark.parametrize(("share", "active", "needs"), [(100, 4, 4), (50, 4, 2), (50, 3, 2), (10, 4, 1), (25, 4, 1), (33, 3, 1), (0, 4, 0)])
def test_a_share_needs_its_share_of_the_active_replicas_rounded_up(share, active, needs):
    assert share_needs(share, active) == needs


# --- the switch gate ------------------------------------------------------------------------------


def test_gate_inputs_carry_the_hpa_floors_and_follow_load_only_when_autoscaled(config):
    assert "followLoad" not in gate_props(config)
    props = gate_props(autoscaled(config, floors={"green": 4}), activeColor="green")
    assert props["followLoad"] is True and props["replicas"] == {"green": 4.0}


def flip_to_green(config, clock, blue_live: int, green_live: int, floor: int | None = None):
    autoscaled(config, **({"floors": {"green": floor}} if floor else {}))
    olds = outs_of(gate_props(config))
    news = gate_props(config, activeColor="green")
    apps = FakeApps(front_blue=deployment(blue_live, blue_live), front_green=deployment(green_live, green_live))
    return FakeClusterProvider(apps, clock), olds, news


def test_a_flip_to_a_color_at_its_floor_while_the_active_runs_4_is_refused_at_once(config, clock):
    provider, olds, news = flip_to_green(config, clock, blue_live=4, green_live=1)
    with pytest.raises(SwitchRefused) as err:
        provider.update("app/front", olds, news)
    assert str(err.value) == (
        "front: routing not changed: green would take 100% of the load blue carries on 4 live replicas, which needs 4 replicas "
        "(100% of 4, rounded up), but green runs 1 and its HPA floor is 1: its HPA cannot scale for traffic it does not get "
        "yet; raise apps.front.autoscaling.floors.green to 4 for this step (`make release` does)"
    )
    assert clock.sleeps == []  # at once: waiting would not help


def test_a_raised_floor_passes_once_the_color_runs_the_share(config, clock):
    provider, olds, news = flip_to_green(config, clock, blue_live=4, green_live=4, floor=4)
    assert (provider.update("app/front", olds, news).outs or {})["weights"] == {"blue": 0.0, "green": 100.0}


def test_a_color_its_hpa_already_scaled_waits_for_the_share_to_be_available(config, clock):
    autoscaled(config)
    olds, news = outs_of(gate_props(config)), gate_props(config, canaryWeight=50)
    # Read by the load check, then polled: 1 of 2 available, then 2.
    starting = [deployment(replicas=2, available=1), deployment(replicas=2, available=1), deployment(replicas=2, available=2)]
    provider = FakeClusterProvider(FakeApps(front_blue=deployment(4, 4), front_green=starting), clock)
    provider.update("app/front", olds, news)
    assert clock.sleeps == [2.0]  # green ran 2 (its share of blue's 4) but only 1 was available at first


def test_a_canary_needs_only_its_share(config, clock):
    autoscaled(config)
    olds, news = outs_of(gate_props(config)), gate_props(config, canaryWeight=10)
    provider = FakeClusterProvider(FakeApps(front_blue=deployment(4, 4), front_green=deployment(1, 1)), clock)
    assert (provider.update("app/front", olds, news).outs or {})["weights"] == {"blue": 90.0, "green": 10.0}


def test_an_active_color_that_cannot_be_read_refuses_a_share_at_once(config, clock):
    autoscaled(config)
    olds, news = outs_of(gate_props(config)), gate_props(config, canaryWeight=50)
    apps = FakeApps(front_blue=ApiException(status=503, reason="Service Unavailable"), front_green=deployment(4, 4))
    with pytest.raises(SwitchRefused) as err:
        FakeClusterProvider(apps, clock).update("app/front", olds, news)
    assert str(err.value) == (
        "front: routing not changed: cannot count the load blue carries: cannot read Deployment app/front-blue of blue: 503 Service Unavailable"
    )
    assert apps.reads == [("app", "front-blue")]


def test_without_autoscaling_the_active_load_is_not_read(config, clock):
    olds, news = outs_of(gate_props(config)), gate_props(config, activeColor="green")
    apps = FakeApps(front_blue=deployment(9, 9), front_green=deployment(3, 3))
    FakeClusterProvider(apps, clock).update("app/front", olds, news)
    assert apps.reads == [("app", "front-green")]


# --- wiring ---------------------------------------------------------------------------------------

HPA_TYPE = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"


def test_every_deployed_color_gets_an_hpa_the_gate_waits_for(run_stack, config):
    rec = run_stack(autoscaled(config))
    gate = find(rec, "pulumi-python:dynamic:SwitchGate", "front-switch-gate")
    for color in ("blue", "green"):
        hpa = find(rec, HPA_TYPE, f"front-{color}")
        assert hpa.inputs["spec"]["minReplicas"] == 1
        assert any(dep.endswith(f":Deployment::front-{color}") for dep in hpa.dependencies)
        assert "replicas" not in find(rec, ":Deployment", f"front-{color}").inputs["spec"]
    assert any(dep.endswith(f"{HPA_TYPE}::front-blue") for dep in gate.dependencies)  # the routed color's floor first


def test_a_color_scaled_to_zero_has_no_hpa(run_stack, config):
    config = autoscaled(config)
    config["apps"]["front"]["green"]["replicas"] = 0
    rec = run_stack(config)
    assert [r.name for r in rec.of_type(HPA_TYPE)] == ["front-blue"]
