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
