"""A Grafana dashboard per app, built with grafana-foundation-sdk and shipped as a sidecar ConfigMap.

Request rate, error rate and p99 latency, each split by color (Istio's `destination_version`).
The active color is derived from live traffic, not from config: the color holding the majority of
requests is shown in a state timeline and annotated on every panel. So a flip changes routing
objects only; this ConfigMap is the same whichever color is active.
"""

from __future__ import annotations

import json
from typing import Any

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.builders import prometheus, statetimeline, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import LegendDisplayMode, LegendPlacement
from grafana_foundation_sdk.models.dashboard import DataSourceRef, DynamicConfigValue

from ..shared import naming
from ..shared.colors import COLORS
from .config import AppConfig
from .promotion import DURATION_BUCKETS, REQUESTS, selector

# The Grafana chart's dashboard sidecar loads ConfigMaps carrying this label (its default
# `sidecar.dashboards.label`), from the namespace Grafana runs in with Istio's addons.
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
RATE = "$__rate_interval"


ACTIVE = "Active color (majority of requests)"
# The time series panels, left to right, with their units.
SERIES_UNITS = {"Request rate by color": "reqps", "Error rate (5xx) by color": "percentunit", "p99 latency by color": "ms"}


def _by_color(app: str, namespace: str, metric: str, extra: str = "", by: str = "destination_version") -> str:
    match = selector(app, namespace) + extra
    return f"sum by ({by}) (rate({metric}{{{match}}}[{RATE}]))"


def queries(app: str, namespace: str) -> dict[str, str]:
    """Every panel's PromQL, by panel title."""
    requests = _by_color(app, namespace, REQUESTS)
    errors = _by_color(app, namespace, REQUESTS, ',response_code=~"5.."')
    total = f"sum(rate({REQUESTS}{{{selector(app, namespace)}}}[{RATE}]))"
    buckets = _by_color(app, namespace, DURATION_BUCKETS, by="destination_version, le")
    return {
        # The active color serves most requests (the idle one only previews and its canary share).
        ACTIVE: f"{requests} / ignoring(destination_version) group_left {total} > 0.5",
        "Request rate by color": requests,
        # `or ... * 0`: a color without a single 5xx shows 0, not a gap.
        "Error rate (5xx) by color": f"({errors} or {requests} * 0) / {requests}",
        "p99 latency by color": f"histogram_quantile(0.99, {buckets})",
    }


def _target(expr: str) -> prometheus.Dataquery:
    return prometheus.Dataquery().ref_id("A").expr(expr).legend_format("{{destination_version}}").datasource(DATASOURCE)


def _colored(panel: Any) -> Any:
    """Blue series in blue, green in green: a glance says which color misbehaves."""
    for color in COLORS:
        panel = panel.override_by_name(color, [DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": color})])
    return panel


def _timeseries(title: str, expr: str, unit: str) -> timeseries.Panel:
    legend = (
        common_builders.VizLegendOptions()
        .display_mode(LegendDisplayMode.TABLE)
        .placement(LegendPlacement.BOTTOM)
        .show_legend(True)
        .calcs(["lastNotNull", "max"])
    )
    panel = timeseries.Panel().title(title).datasource(DATASOURCE).with_target(_target(expr)).unit(unit).legend(legend)
    return _colored(panel.height(8).span(8))


def _active_color(expr: str) -> statetimeline.Panel:
    panel = statetimeline.Panel().title(ACTIVE).datasource(DATASOURCE).with_target(_target(expr))
    return _colored(panel.height(4).span(24))


def build(app: str, cfg: AppConfig) -> dict[str, Any]:
    """The dashboard model as Grafana's JSON (a dict)."""
    panels = queries(app, cfg.namespace)
    annotation = builders.AnnotationQuery().name("Active color").datasource(DATASOURCE).enable(True).icon_color("purple")
    board = (
        builders.Dashboard(f"Blue/green: {app}")
        .uid(naming.dashboard_uid(app))
        .tags(["bluegreen", app])
        .refresh("30s")
        .time("now-3h", "now")
        .with_variable(builders.DatasourceVariable("datasource").label("Prometheus").type("prometheus"))
        .annotation(annotation.expr(panels[ACTIVE]))
        .with_panel(_active_color(panels[ACTIVE]))
    )
    for title, unit in SERIES_UNITS.items():
        board = board.with_panel(_timeseries(title, panels[title], unit))
    model = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    # Prometheus annotation fields the SDK's generic AnnotationQuery does not model: name each region by color.
    model["annotations"]["list"][-1].update(
        {"titleFormat": "{{destination_version}} active", "tagKeys": "destination_version", "step": "60s"}
    )
    return model


def config_map(app: str, cfg: AppConfig) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": naming.dashboard_config_map_name(app),
            "namespace": naming.ISTIO_NAMESPACE,
            "labels": {**naming.app_labels(app), **naming.GRAFANA_DASHBOARD_LABEL},
        },
        "data": {f"{naming.dashboard_uid(app)}.json": json.dumps(build(app, cfg), indent=1, sort_keys=True)},
    }
