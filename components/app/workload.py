"""Pure builders for an app's Kubernetes objects: color Deployments, Service, state ConfigMap, Namespace."""

from __future__ import annotations

from typing import Any

from ..shared import naming
from ..shared.colors import Color
from . import drain
from .config import AppConfig
from .routing import RoutingModel


def _pod_security_context(cfg: AppConfig) -> dict[str, Any]:
    """Pod Security "restricted" (with the container's fields below), run as the app's user and group (10001 by
    default: Checkov CKV_K8S_40). No fsGroup: the only volume is the emptyDir on /tmp, which any user may write;
    a volume whose files need group ownership would need one."""
    return {
        "runAsNonRoot": True,
        "runAsUser": cfg.run_as_user,
        "runAsGroup": cfg.run_as_group,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _container_security_context(cfg: AppConfig) -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "privileged": False,
        "readOnlyRootFilesystem": cfg.read_only_root_filesystem,
        "runAsNonRoot": True,
    }


def _probe(cfg: AppConfig, failure_threshold: int, period: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": cfg.health_path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failure_threshold,
    }


def _container(app: str, cfg: AppConfig, image: str) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": app,
        "image": image,
        "ports": [{"name": "http", "containerPort": cfg.port, "protocol": "TCP"}],
        "readinessProbe": _probe(cfg, failure_threshold=3, period=5),
        "livenessProbe": _probe(cfg, failure_threshold=6, period=10),
        "resources": cfg.resources.model_dump(),
        "securityContext": _container_security_context(cfg),
        "lifecycle": drain.lifecycle(cfg.drain),
    }
    if cfg.read_only_root_filesystem:
        container["volumeMounts"] = [{"name": "tmp", "mountPath": "/tmp"}]
    return container


def deployment(app: str, cfg: AppConfig, color: Color, placement: dict[str, Any] | None = None) -> dict[str, Any]:
    """One color's Deployment. Nothing in it depends on which color is active, so a flip never touches it.

    `placement` holds pod spec fields (nodeSelector, tolerations) that put the pods on the node pool.
    """
    spec = cfg.color(color)
    assert spec.image, f"{app}/{color} has no image"
    pod_spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "securityContext": _pod_security_context(cfg),
        "containers": [_container(app, cfg, spec.image)],
        "terminationGracePeriodSeconds": cfg.drain.termination_grace_period_seconds,
        "topologySpreadConstraints": drain.topology_spread(app, color),
        **(placement or {}),
    }
    if cfg.read_only_root_filesystem:
        pod_spec["volumes"] = [{"name": "tmp", "emptyDir": {}}]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": naming.deployment_name(app, color), "namespace": cfg.namespace, "labels": naming.app_labels(app, color)},
        "spec": {
            # Autoscaled: no replicas at all, so Pulumi never owns the field its HPA writes (autoscaling.py).
            **({} if cfg.hpa_floor(color) is not None else {"replicas": spec.replicas}),
            "selector": {"matchLabels": naming.selector_labels(app, color)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
            "template": {
                "metadata": {"labels": naming.app_labels(app, color), "annotations": drain.pod_annotations(cfg.drain)},
                "spec": pod_spec,
            },
        },
    }


def service(app: str, cfg: AppConfig) -> dict[str, Any]:
    """One Service over both colors; the DestinationRule's subsets tell the colors apart."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": app, "namespace": cfg.namespace, "labels": naming.app_labels(app)},
        "spec": {
            "type": "ClusterIP",
            "selector": naming.selector_labels(app),
            "ports": [{"name": "http", "port": cfg.port, "targetPort": "http", "protocol": "TCP", "appProtocol": "http"}],
        },
    }


def state_config_map(app: str, cfg: AppConfig, model: RoutingModel) -> dict[str, Any]:
    """The active color (and the rollback target), where ops scripts read it (`kubectl get cm <app>-bluegreen`)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": naming.state_config_map_name(app), "namespace": cfg.namespace, "labels": naming.app_labels(app)},
        "data": {
            "activeColor": model.active,
            "idleColor": model.idle,
            # What `make rollback` would return to; empty when there is nothing to undo.
            "previousColor": cfg.previous_color or "",
            "canaryWeight": str(model.idle_weight),
            "blueImage": cfg.blue.image or "",
            "greenImage": cfg.green.image or "",
        },
    }
