"""Pure builders that keep a color serving until no request can still reach a stopping pod.

A pod stops in this order: it is removed from the Service endpoints while its preStop hook runs
(the app keeps serving during the seconds every Envoy needs to drop the endpoint), then the app
gets SIGTERM and finishes in-flight requests within `appShutdownSeconds`. The sidecar must outlive it:
- native sidecar (Istio 1.27+, Kubernetes 1.33+): Kubernetes stops it only after the app exited;
- classic sidecar: it gets SIGTERM when the pod starts terminating and stops after
  `terminationDrainDuration` (= `proxyDrainSeconds`, at least preStop + app shutdown).
The grace period covers all of it (validated in `config.Drain`).
"""

from __future__ import annotations

import json
from typing import Any

from ..shared import naming
from ..shared.colors import Color
from .config import AppConfig, Drain

PROXY_CONFIG_ANNOTATION = "proxy.istio.io/config"
# Pins the sidecar mode per pod, so the drain timing matches how the proxy really shuts down.
NATIVE_SIDECAR_ANNOTATION = "sidecar.istio.io/nativeSidecar"


def lifecycle(drain: Drain) -> dict[str, Any]:
    # Kubernetes' own sleep action (on by default since 1.30): works in distroless images without /bin/sleep.
    return {"preStop": {"sleep": {"seconds": drain.pre_stop_seconds}}}


def pod_annotations(drain: Drain) -> dict[str, str]:
    """Per-pod Istio proxy config: the app starts only once Envoy is ready; a classic sidecar drains
    `proxyDrainSeconds` from the start of termination (unused by a native sidecar, so not set)."""
    proxy_config: dict[str, Any] = {"holdApplicationUntilProxyStarts": True}
    if drain.proxy_seconds is not None:
        proxy_config["terminationDrainDuration"] = f"{drain.proxy_seconds}s"
    return {
        PROXY_CONFIG_ANNOTATION: json.dumps(proxy_config, sort_keys=True),
        NATIVE_SIDECAR_ANNOTATION: "true" if drain.sidecar_mode == "native" else "false",
    }


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
