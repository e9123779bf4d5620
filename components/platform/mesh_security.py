"""Per app namespace: Pod Security "restricted", STRICT mTLS, and a NetworkPolicy as defence in depth
under the mesh (per-app callers are admitted on top of it by components/app/callers.py)."""

from __future__ import annotations

from typing import Any

from ..shared import naming
from ..shared.istio_api import SECURITY

ISTIOD_LABELS = {"app": "istiod"}
PROMETHEUS_LABELS = {"app.kubernetes.io/name": "prometheus"}
# The sidecar's merged Prometheus endpoint (app and Envoy metrics).
SIDECAR_METRICS_PORT = 15020


def namespace(name: str) -> dict[str, Any]:
    """An app namespace: sidecar injection on, Pod Security "restricted" enforced."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {
                "istio-injection": "enabled",
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/warn": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
                **naming.MANAGED_BY,
            },
        },
    }


def peer_authentication(namespace: str) -> dict[str, Any]:
    """Namespace-wide STRICT mTLS: plaintext from outside the mesh is refused."""
    return {
        "apiVersion": SECURITY,
        "kind": "PeerAuthentication",
        "metadata": {"name": "default", "namespace": namespace, "labels": dict(naming.MANAGED_BY)},
        "spec": {"mtls": {"mode": "STRICT"}},
    }


def _pods(namespace: str, pod_labels: dict[str, str]) -> dict[str, Any]:
    return {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
        "podSelector": {"matchLabels": dict(pod_labels)},
    }


def network_policy(namespace: str, gateway_labels: dict[str, str], gateway_namespace: str, prometheus: bool) -> dict[str, Any]:
    """Admit only the ingress gateway, istiod and pods of the same namespace (plus metric scrapes)."""
    istiod = _pods(naming.ISTIO_NAMESPACE, ISTIOD_LABELS)
    rules: list[dict[str, Any]] = [{"from": [_pods(gateway_namespace, gateway_labels), istiod, {"podSelector": {}}]}]
    if prometheus:
        prometheus_pods = _pods(naming.ISTIO_NAMESPACE, PROMETHEUS_LABELS)
        rules.append({"from": [prometheus_pods], "ports": [{"protocol": "TCP", "port": SIDECAR_METRICS_PORT}]})
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "mesh-ingress-only", "namespace": namespace, "labels": dict(naming.MANAGED_BY)},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": rules},
    }
