"""hpa-replica-bounds and hpa-floor-carries-share, on records and on the real program's registration."""

from __future__ import annotations

from cli.engine.policy_check import records
from components.app.autoscaling import horizontal_pod_autoscaler
from components.config import parse_stack_config
from policies.guardrails.catalog import MANDATORY, rule
from tests.policy_records import good_stack, k8s

HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"


def autoscaled(config, **front):
    app = config["apps"]["front"]
    for color in ("blue", "green"):
        app[color].pop("replicas", None)
    app["autoscaling"] = {"minReplicas": 1, "maxReplicas": 6}
    app.update(front)
    return config


def floor_findings(run_stack, config) -> list[str]:
    chosen = rule("hpa-floor-carries-share")
    return [v.message for v in chosen.check(records(run_stack(config)), chosen.defaults())]


def bounds(spec) -> list[str]:
    chosen = rule("hpa-replica-bounds")
    manifest = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "front-green", "namespace": "app"}}
    return chosen.check(k8s(HPA, {**manifest, "spec": spec}), chosen.defaults())


def test_both_rules_are_mandatory():
    assert rule("hpa-replica-bounds").level == rule("hpa-floor-carries-share").level == MANDATORY


def test_an_hpa_floor_of_zero_or_above_its_ceiling_is_refused(config):
    assert bounds({"minReplicas": 5, "maxReplicas": 3}) == [
        "HorizontalPodAutoscaler app/front-green: minReplicas (5) is above maxReplicas (3)"
    ]
    assert bounds({"minReplicas": 0, "maxReplicas": 3}) == [
        "HorizontalPodAutoscaler app/front-green: minReplicas is 0: an HPA floor is at least 1 (scale a color down with replicas 0)"
    ]
    cfg = parse_stack_config(autoscaled(config)).apps["front"]
    assert bounds(horizontal_pod_autoscaler("front", cfg, "green")["spec"]) == []


def test_a_canary_on_a_floor_below_its_share_of_the_active_floor_is_refused(run_stack, config):
    messages = floor_findings(
        run_stack, autoscaled(config, canaryWeight=50, autoscaling={"minReplicas": 1, "maxReplicas": 6, "floors": {"blue": 4}})
    )
    assert messages == [
        "VirtualService app/front: http[2] (default) gives 50% to green, whose HPA floor is 1, while blue runs at least 4: the share "
        "needs 2 (50% of 4, rounded up); raise apps.<app>.autoscaling.floors.green for the step (`make release` does)"
    ]


def test_a_raised_floor_carries_the_share(run_stack, config):
    floors = {"blue": 4, "green": 2}
    assert (
        floor_findings(run_stack, autoscaled(config, canaryWeight=50, autoscaling={"minReplicas": 1, "maxReplicas": 6, "floors": floors}))
        == []
    )


def test_a_flip_landing_on_a_floor_below_the_color_it_left_is_refused(run_stack, config):
    flip = autoscaled(config, activeColor="green", autoscaling={"minReplicas": 1, "maxReplicas": 6, "floors": {"blue": 4}})
    assert [m.split(":")[1] for m in floor_findings(run_stack, flip)] == [
        " http[2] (default) gives 100% to green, whose HPA floor is 1, while blue runs at least 4"
    ]
    flip["apps"]["front"]["autoscaling"]["floors"]["green"] = 4
    assert floor_findings(run_stack, flip) == []


def test_equal_floors_and_stacks_without_autoscaling_pass(run_stack, config):
    assert floor_findings(run_stack, config) == []
    chosen = rule("hpa-floor-carries-share")
    assert chosen.check(good_stack(idle_weight=50), chosen.defaults()) == []
    assert floor_findings(run_stack, autoscaled(config, canaryWeight=50)) == []
