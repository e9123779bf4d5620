"""The pure routing model: active, idle, weights and the preview match."""

from __future__ import annotations

import pytest

from components.app.routing import Destination, RouteMirror, ValueMatch, routing_model
from components.config import parse_stack_config


def model_for(config, **changes):
    config["apps"]["front"].update(changes)
    return routing_model(parse_stack_config(config).apps["front"])


def split(route):
    return {d.color: d.weight for d in route.destinations}


@pytest.mark.parametrize("active,idle", [("blue", "green"), ("green", "blue")])
def test_default_traffic_goes_to_the_active_color(config, active, idle):
    model = model_for(config, activeColor=active)
    assert (model.active, model.idle) == (active, idle)
    assert split(model.default_route) == {active: 100}


@pytest.mark.parametrize("weight", [1, 25, 50, 99])
def test_canary_weight_goes_to_the_idle_color(config, weight):
    model = model_for(config, activeColor="green", canaryWeight=weight)
    expected = {"green": 100 - weight, "blue": weight}
    assert split(model.default_route) == {c: w for c, w in expected.items() if w}
    assert sum(d.weight for d in model.default_route.destinations) == 100


def test_preview_routes_reach_only_the_idle_color_and_come_first(config):
    model = model_for(config, activeColor="blue", canaryWeight=20)
    names = [route.name for route in model.routes]
    assert names == ["preview-path", "preview-header", "default"]
    for route in model.preview:
        assert route.destinations == (Destination("green", 100),)
    path, header = model.preview
    assert (path.path_prefix, path.rewrite_to_root) == ("/test", True)
    assert header.header == ValueMatch("x-preview", "true") and not header.rewrite_to_root


def test_preview_host_route_comes_first_without_rewrite(config):
    config["apps"]["front"]["preview"]["host"] = "front-preview.apps.example.com"
    model = model_for(config)
    assert [route.name for route in model.routes] == ["preview-host", "preview-path", "preview-header", "default"]
    by_host = model.preview[0]
    assert by_host.host == "front-preview.apps.example.com" and by_host.destinations == (Destination("green", 100),)
    assert not by_host.rewrite_to_root and by_host.path_prefix is None and by_host.header is None


def test_preview_is_closed_without_source_ranges(config):
    """No default ranges (10.0.0.0/8 would admit every pod and node): no ranges, no preview routes."""
    model = model_for(config, preview={})
    assert model.preview == () and model.routed_colors == {"blue"}


def test_no_preview_route_to_an_idle_color_that_cannot_serve(config):
    assert model_for(config, green={"image": "r/front:2", "replicas": 0}).preview == ()
    assert model_for(config, green={}).preview == ()


def test_preview_can_be_switched_off(config):
    assert model_for(config, preview={"enabled": False}).preview == ()


@pytest.mark.parametrize(
    "changes,routed",
    [
        ({}, {"blue", "green"}),
        ({"green": {"image": "r/front:2", "replicas": 0}}, {"blue"}),
        ({"preview": {"enabled": False}}, {"blue"}),
        ({"preview": {"enabled": False}, "canaryWeight": 5}, {"blue", "green"}),
    ],
)
def test_routed_colors_are_those_with_a_share_or_the_preview(config, changes, routed):
    assert model_for(config, **changes).routed_colors == routed


# --- mirror -------------------------------------------------------------------------------------


@pytest.mark.parametrize("active,idle", [("blue", "green"), ("green", "blue")])
def test_mirror_copies_default_traffic_to_the_idle_color(config, active, idle):
    model = model_for(config, activeColor=active, mirror={"percent": 10})
    assert model.default_route.mirror == RouteMirror(idle, 10)
    assert split(model.default_route) == {active: 100}  # copies take no share of the split
    assert all(route.mirror is None for route in model.preview)  # testers' requests are not copied


def test_no_mirror_unless_configured(config):
    assert model_for(config).default_route.mirror is None


def test_mirror_keeps_a_fractional_percent(config):
    assert model_for(config, mirror={"percent": 0.5}).default_route.mirror == RouteMirror("green", 0.5)


def test_mirror_target_is_routed_even_without_preview(config):
    """A routed color's Deployment comes before the VirtualService: the copies never reach a color still starting."""
    model = model_for(config, preview={"enabled": False}, mirror={"percent": 10})
    assert model.preview == () and model.routed_colors == {"blue", "green"}
