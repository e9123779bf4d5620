"""The one source of truth for object names and labels."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # config.py takes its defaults from here
    from .colors import Color

PROJECT = "bluegreen-platform"
# Where istioctl installs the control plane and ingress gateway, and the addons run.
ISTIO_NAMESPACE = "istio-system"
# Grafana's dashboard sidecar loads ConfigMaps carrying this label (set in the Grafana addon's values).
GRAFANA_DASHBOARD_LABEL = {"grafana_dashboard": "1"}
MANAGED_BY = {"app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": PROJECT}
# Istio's canonical labels: `app` and `version` name the workload in telemetry
# (destination_app / destination_version), so `version` carries the color.
APP_LABEL = "app"
COLOR_LABEL = "version"


def deployment_name(app: str, color: Color) -> str:
    return f"{app}-{color}"


def service_host(app: str, namespace: str) -> str:
    return f"{app}.{namespace}.svc.cluster.local"


def state_config_map_name(app: str) -> str:
    return f"{app}-bluegreen"


def preview_policy_name(app: str) -> str:
    return f"{app}-preview-gate"


def switch_gate_name(app: str) -> str:
    return f"{app}-switch-gate"


def scale_down_delay_name(app: str) -> str:
    return f"{app}-scale-down-delay"


def dashboard_uid(app: str) -> str:
    return f"bluegreen-{app}"


def dashboard_config_map_name(app: str) -> str:
    return f"{dashboard_uid(app)}-dashboard"


def selector_labels(app: str, color: Color | None = None) -> dict[str, str]:
    """Labels a selector matches: the whole app, or one color of it."""
    labels = {APP_LABEL: app}
    if color:
        labels[COLOR_LABEL] = color
    return labels


def app_labels(app: str, color: Color | None = None) -> dict[str, str]:
    """Labels every object of an app carries (selector labels plus recommended ones)."""
    return {**selector_labels(app, color), "app.kubernetes.io/name": app, **MANAGED_BY}


def gateway_ref(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"
