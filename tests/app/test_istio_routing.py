"""Rendering the routing model to Istio objects."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from components.app import istio_routing
from components.app.routing import routing_model
from components.config import parse_stack_config
from tests.conftest import SHARED

HOST = "front.app.svc.cluster.local"
VALIDATOR = SHARED / "tools" / "validate_manifests.py"


def render(config, **changes):
    config["apps"]["front"].update(changes)
    stack = parse_stack_config(config)
    app = stack.apps["front"]
    return app, stack.gateway, istio_routing.virtual_service("front", app, stack.gateway, routing_model(app))


def destinations(http_route):
    return [(r["destination"]["subset"], r["weight"]) for r in http_route["route"]]


def test_virtual_service_binds_gateway_and_mesh_hosts(config):
    _, _, vs = render(config)
    assert vs["metadata"] == {"name": "front", "namespace": "app", "labels": vs["metadata"]["labels"]}
    assert vs["spec"]["hosts"] == ["front.stg.example.com", HOST]
    assert vs["spec"]["gateways"] == ["app/bluegreen-gateway", "mesh"]
    for route in vs["spec"]["http"]:
        for dest in route["route"]:
            assert dest["destination"]["host"] == HOST and dest["destination"]["port"] == {"number": 8080}


def test_active_green_with_canary_split(config):
    _, _, vs = render(config, activeColor="green", canaryWeight=25)
    preview_path, preview_header, default = vs["spec"]["http"]
    assert destinations(default) == [("green", 75), ("blue", 25)] and "match" not in default
    assert destinations(preview_path) == destinations(preview_header) == [("blue", 100)]


def test_preview_path_matches_prefix_boundary_and_rewrites(config):
    _, _, vs = render(config)
    preview_path = vs["spec"]["http"][0]
    assert preview_path["match"] == [{"uri": {"exact": "/test"}}, {"uri": {"prefix": "/test/"}}]
    assert preview_path["rewrite"] == {"uri": "/"}
    assert vs["spec"]["http"][1]["match"] == [{"headers": {"x-preview": {"exact": "true"}}}]
    assert "rewrite" not in vs["spec"]["http"][1]


def test_destination_rule_keeps_both_subsets_whatever_is_active(config):
    for active in ("blue", "green"):
        config["apps"]["front"]["activeColor"] = active
        app = parse_stack_config(config).apps["front"]
        rule = istio_routing.destination_rule("front", app)
        assert rule["spec"]["host"] == HOST
        assert rule["spec"]["subsets"] == [
            {"name": "blue", "labels": {"version": "blue"}},
            {"name": "green", "labels": {"version": "green"}},
        ]
        assert rule["spec"]["trafficPolicy"]["tls"] == {"mode": "ISTIO_MUTUAL"}


def test_preview_gate_denies_outsiders_on_both_preview_matches(config):
    config["apps"]["front"]["preview"]["allowedSourceRanges"] = ["10.0.0.0/8"]
    app, gateway, _ = render(config)
    policy = istio_routing.preview_gate("front", app, gateway)
    assert policy["metadata"]["namespace"] == "istio-system"
    spec = policy["spec"]
    assert spec["action"] == "DENY" and spec["selector"] == {"matchLabels": {"istio": "ingressgateway"}}
    path_rule, header_rule = spec["rules"]
    for rule in spec["rules"]:
        assert rule["from"] == [{"source": {"notRemoteIpBlocks": ["10.0.0.0/8"]}}]
        assert rule["to"][0]["operation"]["hosts"] == ["front.stg.example.com", "front.stg.example.com:*"]
    assert path_rule["to"][0]["operation"]["paths"] == ["/test", "/test/*"]
    assert header_rule["when"] == [{"key": "request.headers[x-preview]", "values": ["true"]}]


PREVIEW_HOST = "front-preview.apps.example.com"  # covered by the fixture's gateway.hosts *.apps.example.com


def test_preview_host_sends_every_request_to_the_idle_color_first(config):
    config["apps"]["front"]["preview"]["host"] = PREVIEW_HOST
    _, _, vs = render(config, canaryWeight=10)
    assert vs["spec"]["hosts"] == ["front.stg.example.com", PREVIEW_HOST, HOST]
    by_host = vs["spec"]["http"][0]
    assert by_host["name"] == "preview-host"
    # The Host header with or without a port; no rewrite: assets, links and redirects stay on the preview host.
    assert by_host["match"] == [{"authority": {"regex": r"^front-preview\.apps\.example\.com(:[0-9]+)?$"}}]
    assert "rewrite" not in by_host and destinations(by_host) == [("green", 100)]
    assert [r["name"] for r in vs["spec"]["http"]] == ["preview-host", "preview-path", "preview-header", "default"]


def test_preview_gate_closes_the_preview_host_to_outsiders(config):
    config["apps"]["front"]["preview"].update(host=PREVIEW_HOST, allowedSourceRanges=["203.0.113.0/24"])
    app, gateway, _ = render(config)
    host_rule, path_rule, header_rule = istio_routing.preview_gate("front", app, gateway)["spec"]["rules"]
    assert host_rule == {
        "from": [{"source": {"notRemoteIpBlocks": ["203.0.113.0/24"]}}],
        "to": [{"operation": {"hosts": [PREVIEW_HOST, f"{PREVIEW_HOST}:*"]}}],
    }
    assert "paths" in path_rule["to"][0]["operation"] and "when" in header_rule


def test_routing_table_names_the_preview_host(config):
    from cli.engine.plan import routing_tables
    from cli.shared.traffic import from_routing_rows

    config["apps"]["front"]["preview"]["host"] = PREVIEW_HOST
    _, _, vs = render(config)
    rows = routing_tables([vs])["front"]
    assert rows[0] == (f"host {PREVIEW_HOST}", "green", 100)
    traffic = from_routing_rows(rows)
    assert traffic.split == (("blue", 100),) and traffic.preview == ("green",)


def test_policy_pack_passes_a_stack_with_a_preview_host_and_catches_it_serving_the_active_color(run_stack, config):
    from cli.engine.policy_check import check

    config["apps"]["front"]["preview"]["host"] = PREVIEW_HOST
    rec = run_stack(config)
    assert check("stg", rec) == []
    # preview-never-active reads the preview-host route like the other preview routes.
    vs = next(r for r in rec.resources if r.type.endswith(":VirtualService"))
    vs.inputs["spec"]["http"][0]["route"][0]["destination"]["subset"] = "blue"
    assert [v.policy for v in check("stg", rec)] == ["preview-never-active"]


# --- mirror -------------------------------------------------------------------------------------


def test_mirror_is_rendered_on_the_default_route_only(config):
    _, _, vs = render(config, mirror={"percent": 10})
    *preview, default = vs["spec"]["http"]
    assert default["mirror"] == {"host": HOST, "subset": "green", "port": {"number": 8080}}
    assert default["mirrorPercentage"] == {"value": 10}
    assert destinations(default) == [("blue", 100)]
    assert all("mirror" not in route and "mirrorPercentage" not in route for route in preview)
    assert all("mirrors" not in route and "mirrorPercent" not in route for route in vs["spec"]["http"])


def test_mirror_follows_a_flip_and_keeps_fractions(config):
    _, _, vs = render(config, activeColor="green", mirror={"percent": 0.25})
    default = vs["spec"]["http"][-1]
    assert default["mirror"]["subset"] == "blue" and default["mirrorPercentage"] == {"value": 0.25}


def test_no_mirror_fields_without_a_mirror(config):
    _, _, vs = render(config)
    assert all(not {"mirror", "mirrorPercentage"} & route.keys() for route in vs["spec"]["http"])


def validate(manifest, folder) -> subprocess.CompletedProcess:
    """../shared's strict validator (Istio 1.30 schemas, undeclared fields are errors) over one manifest."""
    (folder / "manifest.yaml").write_text(yaml.safe_dump(manifest))
    return subprocess.run([sys.executable, str(VALIDATOR), str(folder)], capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.skipif(not VALIDATOR.exists(), reason="../shared not present")
@pytest.mark.parametrize("percent", [10, 0.5, 100])
def test_mirrored_virtual_service_is_valid_against_the_istio_1_30_schema(config, tmp_path, percent):
    _, _, vs = render(config, mirror={"percent": percent})
    result = validate(vs, tmp_path)
    assert result.returncode == 0 and "1 ok, 0 invalid, 0 unknown" in result.stdout, result.stdout + result.stderr


@pytest.mark.skipif(not VALIDATOR.exists(), reason="../shared not present")
def test_the_schema_check_catches_a_misspelt_mirror_field(config, tmp_path):
    """The check above could fail: a field the 1.30 schema does not declare is an error."""
    _, _, vs = render(config, mirror={"percent": 10})
    vs["spec"]["http"][-1]["mirrorPercentage"] = {"percent": 10}
    result = validate(vs, tmp_path)
    assert result.returncode != 0, result.stdout
