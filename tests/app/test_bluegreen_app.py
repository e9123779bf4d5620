"""BlueGreenApp under the mock engine: what it registers, its dependencies, outputs, and what a flip touches."""

from __future__ import annotations

import pytest

from tests.conftest import find

APP_TYPE = "bluegreen:bluegreen_app:BlueGreenApp"
GATE_TYPE = "pulumi-python:dynamic:SwitchGate"


def app_children(recording, app="front"):
    component = find(recording, APP_TYPE, app)
    return [r for r in recording.resources if r.parent == component.urn]


def kind_of(resource) -> str:
    """The Kubernetes kind, or the dynamic resource's name (the switch gate, the scale-down delay)."""
    return resource.type.rsplit(":", 1)[1] if resource.type.startswith("pulumi-python:dynamic:") else resource.inputs["kind"]


def test_registers_both_colors_service_routing_state_and_the_gate(run_stack, config):
    rec = run_stack(config)
    children = app_children(rec)
    dynamic = [r for r in children if r.type.startswith("pulumi-python:dynamic:")]
    assert sorted(r.name for r in dynamic) == ["front-scale-down-delay", "front-switch-gate"]
    kinds = sorted((r.inputs["kind"], r.inputs["metadata"]["name"]) for r in children if r not in dynamic)
    assert kinds == [
        ("AuthorizationPolicy", "front-callers"),
        ("AuthorizationPolicy", "front-preview-gate"),
        ("ConfigMap", "bluegreen-front-dashboard"),
        ("ConfigMap", "front-bluegreen"),
        ("Deployment", "front-blue"),
        ("Deployment", "front-green"),
        ("DestinationRule", "front"),
        ("NetworkPolicy", "front-callers"),
        ("PodDisruptionBudget", "front-blue"),
        ("PodDisruptionBudget", "front-green"),
        ("Service", "front"),
        ("VirtualService", "front"),
    ]


def test_virtual_service_waits_for_both_deployments_and_the_gate(run_stack, config):
    rec = run_stack(config)
    vs = find(rec, ":VirtualService", "front")
    for color in ("blue", "green"):
        assert find(rec, ":Deployment", f"front-{color}").urn in vs.dependencies
    assert find(rec, ":DestinationRule", "front").urn in vs.dependencies
    assert find(rec, GATE_TYPE, "front-switch-gate").urn in vs.dependencies


def test_color_without_image_is_not_deployed(run_stack, config):
    del config["apps"]["front"]["green"]
    rec = run_stack(config)
    names = [r.inputs["metadata"]["name"] for r in app_children(rec) if kind_of(r) == "Deployment"]
    assert names == ["front-blue"]
    vs = find(rec, ":VirtualService", "front")
    assert [route["name"] for route in vs.inputs["spec"]["http"]] == ["default"]


def test_exports_colors_images_and_preview_url(run_stack, config):
    config["apps"]["front"]["activeColor"] = "green"
    outputs = run_stack(config).outputs["apps"]["front"]
    assert outputs == {
        "activeColor": "green",
        "idleColor": "blue",
        "canaryWeight": 0,
        "images": {"blue": "asia-docker.pkg.dev/acme/web/front:1.4.2", "green": "asia-docker.pkg.dev/acme/web/front:1.5.0"},
        "previewUrl": "http://front.stg.example.com/test/",
        # What this run applies, resolved after the app's Deployments and state ConfigMap: the next run's previous.
        "applied": {
            "weights": {"blue": 0, "green": 100},
            "images": {"blue": "asia-docker.pkg.dev/acme/web/front:1.4.2", "green": "asia-docker.pkg.dev/acme/web/front:1.5.0"},
        },
    }


def test_preview_url_is_the_preview_host_when_set(run_stack, config):
    config["apps"]["front"]["preview"]["host"] = "front-preview.apps.example.com"
    assert run_stack(config).outputs["apps"]["front"]["previewUrl"] == "http://front-preview.apps.example.com/"


def test_preview_is_closed_without_source_ranges(run_stack, config):
    """No default ranges: without allowedSourceRanges no preview route, no gate, no preview URL."""
    config["apps"]["front"]["preview"] = {}
    rec = run_stack(config)
    vs = find(rec, ":VirtualService", "front")
    assert [route["name"] for route in vs.inputs["spec"]["http"]] == ["default"]
    assert "front-preview-gate" not in [r.name for r in app_children(rec)]
    assert rec.outputs["apps"]["front"]["previewUrl"] is None


def test_app_components_follow_their_namespace_and_the_gateway(run_stack, config):
    rec = run_stack(config)
    app = find(rec, APP_TYPE, "front")
    # depends_on a component means on its resources; the app's children wait for the app.
    assert find(rec, ":Namespace", "app").urn in app.dependencies
    assert find(rec, ":Gateway", "bluegreen-gateway").urn in app.dependencies


def changed(before, after):
    """URNs whose inputs differ, plus URNs only on one side (which would be creates/deletes)."""
    b, a = before.by_urn(), after.by_urn()
    assert b.keys() == a.keys(), "a flip must not add, remove or rename resources"
    return {urn for urn in b if b[urn].inputs != a[urn].inputs}


@pytest.mark.parametrize("change", [{"activeColor": "green"}, {"canaryWeight": 40}])
def test_flip_or_canary_touches_routing_and_the_gate_only(run_stack, config, change):
    before = run_stack(config)
    config["apps"]["front"].update(change)
    after = run_stack(config)
    by_urn = after.by_urn()
    kinds = sorted(kind_of(by_urn[urn]) for urn in changed(before, after))
    # The gate's inputs carry the new weights: the update that re-checks the colors gaining traffic.
    assert kinds == ["ConfigMap", "SwitchGate", "VirtualService"]
    for dep in after.of_type("kubernetes:apps/v1:Deployment"):
        assert before.by_urn()[dep.urn].inputs == dep.inputs


def test_scaling_idle_down_touches_only_that_deployment_and_preview(run_stack, config):
    before = run_stack(config)
    config["apps"]["front"]["green"]["replicas"] = 0
    after = run_stack(config)
    names = sorted(after.by_urn()[urn].name for urn in changed(before, after))
    # The preview route to a color with no pods goes away with it, and the scale-down waits the delay.
    assert names == ["front", "front-green", "front-scale-down-delay"]


def test_flip_with_scale_down_moves_traffic_before_the_old_color_shrinks(run_stack, config):
    config["apps"]["front"].update(activeColor="green", blue={"image": "r/front:1", "replicas": 0})
    rec = run_stack(config)
    vs, blue, green = (
        find(rec, ":VirtualService", "front"),
        find(rec, ":Deployment", "front-blue"),
        find(rec, ":Deployment", "front-green"),
    )
    assert green.urn in vs.dependencies and blue.urn not in vs.dependencies
    assert vs.urn in blue.dependencies


# --- mirror -------------------------------------------------------------------------------------


def _changed_names(before, after) -> list[str]:
    by_urn = after.by_urn()
    return sorted(f"{kind_of(by_urn[urn])} {by_urn[urn].name}" for urn in changed(before, after))


@pytest.mark.parametrize("percent", [10, 0.5])
def test_a_mirror_on_or_off_changes_only_the_virtual_service(run_stack, config, percent):
    """With preview on, the idle color is already routed: no Deployment, gate, delay or state ConfigMap moves."""
    plain = run_stack(config)
    config["apps"]["front"]["mirror"] = {"percent": percent}
    mirrored = run_stack(config)
    assert _changed_names(plain, mirrored) == ["VirtualService front"]
    assert _changed_names(mirrored, plain) == ["VirtualService front"]
    default = find(mirrored, ":VirtualService", "front").inputs["spec"]["http"][-1]
    assert default["mirror"]["subset"] == "green" and default["mirrorPercentage"] == {"value": percent}


def test_the_switch_gate_does_not_gate_the_mirror_target(run_stack, config):
    """Copies carry no production share (their answers are discarded): the gate's weights stay as they were."""
    config["apps"]["front"]["mirror"] = {"percent": 10}
    gate = find(run_stack(config), GATE_TYPE, "front-switch-gate")
    assert gate.inputs["weights"] == {"blue": 100, "green": 0}
    assert gate.inputs["replicas"] == {"blue": 3}


def test_without_preview_the_mirror_target_is_deployed_before_the_virtual_service(run_stack, config):
    config["apps"]["front"]["preview"] = {"enabled": False}
    plain = run_stack(config)
    assert find(plain, ":VirtualService", "front").urn in find(plain, ":Deployment", "front-green").dependencies
    config["apps"]["front"]["mirror"] = {"percent": 10}
    mirrored = run_stack(config)
    vs, green = find(mirrored, ":VirtualService", "front"), find(mirrored, ":Deployment", "front-green")
    assert green.urn in vs.dependencies and vs.urn not in green.dependencies
    # The delay tracks the routed colors: removing the mirror later waits before green may shrink.
    assert _changed_names(plain, mirrored) == ["ScaleDownDelay front-scale-down-delay", "VirtualService front"]


def test_policy_pack_passes_a_mirror_and_routing_safety_checks_its_target(run_stack, config):
    from cli.engine.policy_check import check

    config["apps"]["front"]["mirror"] = {"percent": 10}
    rec = run_stack(config)
    assert check("stg", rec) == []
    vs = find(rec, ":VirtualService", "front")
    vs.inputs["spec"]["http"][-1]["mirror"]["subset"] = "canary"
    found = check("stg", rec)
    assert [v.policy for v in found] == ["routing-safety"]
    assert "http[2] (default) mirror -> front.app.svc.cluster.local subset canary: no DestinationRule" in found[0].message
