"""Per app namespace: STRICT mTLS, and a NetworkPolicy as defence in depth under the mesh.

Per app: the namespaces allowed to call it in the mesh, admitted twice, by address (NetworkPolicy) and by
mTLS identity (an ALLOW AuthorizationPolicy, which also keeps the ingress gateway's identity in).
"""
from __future__ import annotations

from typing import Any

from . import naming
from .istio_routing import SECURITY

ISTIOD_LABELS = {"app": "istiod"}
PROMETHEUS_LABELS = {"app.kubernetes.io/name": "prometheus"}
# The sidecar's merged Prometheus endpoint (app and Envoy metrics).
SIDECAR_METRICS_PORT = 15020


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


def callers_policy_name(app: str) -> str:
    return f"{app}-callers"


def _namespaces(names: list[str]) -> dict[str, Any]:
    return {"namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": sorted(names)}]}}


def callers_network_policy(app: str, namespace: str, port: int, callers: list[str]) -> dict[str, Any]:
    """Pods of the caller namespaces may reach the app's pods on its port (added to the namespace's policy)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": callers_policy_name(app), "namespace": namespace, "labels": naming.app_labels(app)},
        "spec": {
            "podSelector": {"matchLabels": naming.selector_labels(app)},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{**_namespaces(callers), "podSelector": {}}], "ports": [{"protocol": "TCP", "port": port}]}],
        },
    }


def callers_authorization_policy(app: str, namespace: str, callers: list[str], gateway_namespace: str) -> dict[str, Any]:
    """ALLOW mTLS peers from the caller namespaces and the ingress gateway's namespace; everyone else is denied.

    `source.namespaces` is read from the peer's certificate (SPIFFE `<trust domain>/ns/<ns>/sa/<sa>`), so it
    holds for any trust domain. Prometheus scrapes the sidecar's port 15020, which pilot-agent serves outside
    the inbound interception: authorization policies do not apply to it (the NetworkPolicy still fences it).
    """
    return {
        "apiVersion": SECURITY,
        "kind": "AuthorizationPolicy",
        "metadata": {"name": callers_policy_name(app), "namespace": namespace, "labels": naming.app_labels(app)},
        "spec": {
            "selector": {"matchLabels": naming.selector_labels(app)},
            "action": "ALLOW",
            "rules": [{"from": [{"source": {"namespaces": sorted({*callers, gateway_namespace})}}]}],
        },
    }
