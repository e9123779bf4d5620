"""Per-resource rules for the release safety settings an app's switch gate carries (its inputs, as the engine sees them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import Resource, as_mapping, items

# components/app/switch_gate.py: `pulumi-python:dynamic:SwitchGate`, one per app; its `analysis` input is the
# app's promotion.analysis as config (camelCase keys).
SWITCH_GATE = "pulumi-python:dynamic:SwitchGate"


def _analysis(resource: Resource) -> Mapping[str, Any]:
    return as_mapping(resource.props.get("analysis")) if resource.type == SWITCH_GATE else {}


def analysis_no_data_fails(resource: Resource, config: Mapping[str, Any]) -> list[str]:
    """A custom check with onNoData pass lets a color without any data (a broken exporter, a misspelt label) through."""
    app = resource.props.get("app", resource.name)
    return [
        f"{app}: promotion.analysis check {check.get('name')!r} passes when its query has no data (onNoData pass): "
        "a misspelt label or a dead exporter promotes unchecked; use fail, or wait for data"
        for check in map(as_mapping, items(_analysis(resource).get("checks")))
        if check.get("onNoData") == "pass"
    ]


_UNITS = {"s": 1, "m": 60, "h": 3600}


def _seconds(duration: Any) -> int | None:
    text = str(duration)
    return int(text[:-1]) * _UNITS[text[-1]] if text[:-1].isdigit() and text[-1:] in _UNITS else None


def post_flip_bake_covers_window(resource: Resource, config: Mapping[str, Any]) -> list[str]:
    """A post-flip watch shorter than the analysis window judges mostly the traffic of before the flip."""
    bake, window = resource.props.get("postFlipBakeSeconds"), _seconds(_analysis(resource).get("window"))
    if not isinstance(bake, (int, float)) or isinstance(bake, bool) or window is None or bake >= window:
        return []
    app = resource.props.get("app", resource.name)
    return [
        f"{app}: promotion.postFlip.bake ({bake:g}s) is shorter than promotion.analysis.window ({window}s): the watch would end "
        "before a window of post-flip traffic exists, judging mostly the traffic before the flip; bake at least one window"
    ]
