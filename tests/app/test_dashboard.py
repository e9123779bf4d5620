"""The per-app Grafana dashboard: provisioned for the sidecar, split by color, the same whichever color is active."""

from __future__ import annotations

import json

from components.app import dashboard
from components.config import parse_stack_config
from tests.conftest import find


def rendered(config) -> tuple[dict, dict]:
    cm = dashboard.config_map("front", parse_stack_config(config).apps["front"])
    return cm, json.loads(cm["data"]["bluegreen-front.json"])


def test_config_map_is_picked_up_by_grafanas_sidecar(config):
    cm, board = rendered(config)
    assert cm["metadata"]["namespace"] == "istio-system"
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["labels"]["app"] == "front"
    assert (board["uid"], board["title"]) == ("bluegreen-front", "Blue/green: front")


def test_panels_show_rate_errors_and_p99_split_by_color(config):
    _, board = rendered(config)
    panels = {p["title"]: p for p in board["panels"]}
    assert list(panels) == [
        "Active color (majority of requests)",
        "Request rate by color",
        "Error rate (5xx) by color",
        "p99 latency by color",
    ]
    units = {title: p["fieldConfig"]["defaults"].get("unit") for title, p in panels.items()}
    assert units["Request rate by color"] == "reqps"
    assert units["Error rate (5xx) by color"] == "percentunit"
    assert units["p99 latency by color"] == "ms"
    for panel in panels.values():
        (target,) = panel["targets"]
        assert target["legendFormat"] == "{{destination_version}}"
        assert 'destination_app="front"' in target["expr"] and 'destination_workload_namespace="app"' in target["expr"]
        assert "by (destination_version" in target["expr"]
        assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        overrides = {o["matcher"]["options"]: o["properties"][0]["value"]["fixedColor"] for o in panel["fieldConfig"]["overrides"]}
        assert overrides == {"blue": "blue", "green": "green"}
    assert 'response_code=~"5.."' in panels["Error rate (5xx) by color"]["targets"][0]["expr"]
    assert panels["p99 latency by color"]["targets"][0]["expr"].startswith("histogram_quantile(0.99, sum by (destination_version, le)")
    assert panels["Active color (majority of requests)"]["type"] == "state-timeline"


def test_active_color_is_annotated_from_traffic(config):
    _, board = rendered(config)
    (annotation,) = board["annotations"]["list"]
    assert annotation["name"] == "Active color" and annotation["enable"] is True
    assert annotation["expr"].endswith("> 0.5")
    assert annotation["titleFormat"] == "{{destination_version}} active"
    assert annotation["tagKeys"] == "destination_version"
    assert [v["type"] for v in board["templating"]["list"]] == ["datasource"]


def test_dashboard_does_not_depend_on_the_active_color(config):
    before, _ = rendered(config)
    config["apps"]["front"].update({"activeColor": "green", "canaryWeight": 20})
    assert rendered(config)[0] == before


def test_each_app_gets_its_dashboard_and_a_flip_leaves_it_alone(run_stack, config):
    before = run_stack(config)
    config["apps"]["front"]["activeColor"] = "green"
    after = run_stack(config)
    cm = find(after, ":ConfigMap", "front-dashboard")
    assert cm.inputs == find(before, ":ConfigMap", "front-dashboard").inputs
    assert cm.inputs["metadata"]["name"] == "bluegreen-front-dashboard"


def test_grafana_addon_sidecar_loads_these_config_maps(config):
    from components.platform.config import Addons
    from components.platform.istio_addons import NAMESPACE, grafana_values

    sidecar = grafana_values(Addons())["sidecar"]["dashboards"]
    assert sidecar["enabled"] is True
    cm = dashboard.config_map("front", parse_stack_config(config).apps["front"])
    assert cm["metadata"]["labels"][sidecar["label"]] == sidecar["labelValue"]
    # The chart's sidecar watches Grafana's own namespace unless told otherwise.
    assert "searchNamespace" not in sidecar and cm["metadata"]["namespace"] == NAMESPACE
