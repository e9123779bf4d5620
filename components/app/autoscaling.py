"""Pure builders and arithmetic for autoscaled colors (`apps.<name>.autoscaling`): one autoscaling/v2
HorizontalPodAutoscaler per color, and how many replicas a share of the active color's load needs.

The HPA owns the Deployment's `spec.replicas`: the Deployment manifest leaves the field out
(workload.deployment), so Pulumi's server-side apply never claims it and never conflicts with the HPA
controller's writes (pulumi-kubernetes #2491). A color with `replicas: 0` has no HPA: it stays scaled down.
"""

from __future__ import annotations

from typing import Any

from ..shared import naming
from ..shared.colors import Color
from .config import AppConfig


def horizontal_pod_autoscaler(app: str, cfg: AppConfig, color: Color) -> dict[str, Any]:
    """`color`'s HPA: CPU utilization of the pods' requests, between its floor and autoscaling.maxReplicas."""
    autoscaling, floor = cfg.autoscaling, cfg.hpa_floor(color)
    assert autoscaling is not None and floor is not None, f"{app}/{color} is not autoscaled"
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": naming.deployment_name(app, color),
            "namespace": cfg.namespace,
            "labels": naming.app_labels(app, color),
        },
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": naming.deployment_name(app, color)},
            "minReplicas": floor,
            "maxReplicas": autoscaling.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": autoscaling.target_cpu_utilization},
                    },
                }
            ],
        },
    }


def share_needs(share: int, active_replicas: int) -> int:
    """The replicas a color needs to take `share` % of the load the active color carries on `active_replicas`
    replicas: its share of them, rounded up (50% of 3 needs 2). Whole numbers (weights and counts), exact."""
    return -(-int(share) * int(active_replicas) // 100)
