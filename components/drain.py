"""Pure builders that keep a color serving until no request can still reach a stopping pod.

A pod stops in this order: it is removed from the Service endpoints while its preStop hook runs
(the app keeps serving during the seconds every Envoy needs to drop the endpoint), then the app
gets SIGTERM; the sidecar keeps forwarding in-flight requests for `terminationDrainDuration`.
The grace period covers all of it (validated in `config.Drain`).
"""
from __future__ import annotations

import json
from typing import Any

from . import naming
from .config import AppConfig, Color, Drain

PROXY_CONFIG_ANNOTATION = "proxy.istio.io/config"


def lifecycle(drain: Drain) -> dict[str, Any]:
    # Kubernetes' own sleep action (on by default since 1.30): works in distroless images without /bin/sleep.
    return {"preStop": {"sleep": {"seconds": drain.pre_stop_seconds}}}


def pod_annotations(drain: Drain) -> dict[str, str]:
    """Per-pod Istio proxy config: the app starts only once Envoy is ready, and Envoy drains before exiting."""
    proxy_config = {
        "holdApplicationUntilProxyStarts": True,
        "terminationDrainDuration": f"{drain.proxy_drain_seconds}s",
    }
    return {PROXY_CONFIG_ANNOTATION: json.dumps(proxy_config, sort_keys=True)}


def topology_spread(app: str, color: Color) -> list[dict[str, Any]]:
    """Spread each color over nodes (strictly) and zones (best effort); counted per rollout revision."""
    selector = {"matchLabels": naming.selector_labels(app, color)}

    def constraint(key: str, when_unsatisfiable: str) -> dict[str, Any]:
        return {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": when_unsatisfiable,
            "labelSelector": selector,
            "matchLabelKeys": ["pod-template-hash"],
        }

    return [constraint("kubernetes.io/hostname", "DoNotSchedule"), constraint("topology.kubernetes.io/zone", "ScheduleAnyway")]


def pod_disruption_budget(app: str, cfg: AppConfig, color: Color) -> dict[str, Any]:
    """At most one pod of a color evicted at a time; with 0 replicas it protects nothing and costs nothing."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {
            "name": naming.deployment_name(app, color),
            "namespace": cfg.namespace,
            "labels": naming.app_labels(app, color),
        },
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": naming.selector_labels(app, color)},
            # Pods that are not Ready serve nothing; evicting them must not block a node drain.
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }

