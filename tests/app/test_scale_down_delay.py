"""The scale-down delay: waits after the VirtualService update only when a color lost its last route."""

from __future__ import annotations

import pytest

from components.app.scale_down_delay import ScaleDownDelayProvider, colors_losing_routes
from components.config import ConfigError, parse_stack_config
from tests.conftest import find


class Recorded(ScaleDownDelayProvider):
    def __init__(self):
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def props(routed: list[str], seconds: int = 30) -> dict:
    return {"app": "front", "routed": routed, "seconds": seconds}


@pytest.mark.parametrize(
    ("before", "after", "waits"),
    [
        (["blue", "green"], ["green"], True),  # flip plus scale-down of blue in one change
        (["blue"], ["green"], True),  # blue had only production, green takes it over
        (["blue", "green"], ["blue", "green"], False),  # a flip alone: both colors stay routed
        (["green"], ["blue", "green"], False),  # a color comes back: nothing to drain
    ],
)
def test_update_waits_only_when_a_color_loses_its_last_route(before, after, waits):
    provider = Recorded()
    provider.update("front-scale-down-delay", props(before), props(after))
    assert provider.slept == ([30.0] if waits else [])
    assert colors_losing_routes(props(before), props(after)) == (sorted(set(before) - set(after)))


def test_create_never_waits_and_diff_tracks_routing_and_seconds():
    provider = Recorded()
    assert provider.create(props(["blue"])).outs == props(["blue"]) and provider.slept == []
    assert provider.diff("id", props(["blue", "green"]), props(["blue", "green"])).changes is False
    assert provider.diff("id", props(["blue", "green"]), props(["green"])).changes is True
    assert provider.diff("id", props(["blue"], 30), props(["blue"], 60)).changes is True


def test_unrouted_color_waits_for_the_delay_which_waits_for_the_virtual_service(run_stack, config):
    app = config["apps"]["front"]
    app["activeColor"] = "green"
    app["blue"]["replicas"] = 0
    app["drain"] = {"scaleDownDelaySeconds": 45}
    rec = run_stack(config)
    delay = find(rec, ":ScaleDownDelay", "front-scale-down-delay")
    assert delay.inputs["routed"] == ["green"] and delay.inputs["seconds"] == 45
    vs = find(rec, "VirtualService", "front")
    blue = find(rec, "apps/v1:Deployment", "front-blue")
    assert vs.urn in delay.dependencies and delay.urn in blue.dependencies


def test_scale_down_delay_is_validated(config):
    config["apps"]["front"]["drain"] = {"scaleDownDelaySeconds": -1}
    with pytest.raises(ConfigError) as err:
        parse_stack_config(config)
    assert err.value.problems == ["apps.front.drain.scaleDownDelaySeconds: must be between 0 and 3600, got -1"]
