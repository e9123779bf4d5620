"""Per app: the namespaces allowed to call it in the mesh, admitted twice, by address (NetworkPolicy) and by
mTLS identity (an ALLOW AuthorizationPolicy, which also keeps the ingress gateway's identity in)."""

from __future__ import annotations

from typing import Any

from ..shared import naming
from ..shared.istio_api import SECURITY


def policy_name(app: str) -> str:
    return f"{app}-callers"


def _namespaces(names: list[str]) -> dict[str, Any]:
    return {"namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": sorted(names)}]}}


def network_policy(app: str, namespace: str, port: int, callers: list[str]) -> dict[str, Any]:
    """Pods of the caller namespaces may reach the app's pods on its port (added to the namespace's policy)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": policy_name(app), "namespace": namespace, "labels": naming.app_labels(app)},
        "spec": {
            "podSelector": {"matchLabels": naming.selector_labels(app)},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{**_namespaces(callers), "podSelector": {}}], "ports": [{"protocol": "TCP", "port": port}]}],
        },
    }


def authorization_policy(app: str, namespace: str, callers: list[str], gateway_namespace: str) -> dict[str, Any]:
    """ALLOW mTLS peers from the caller namespaces and the ingress gateway's namespace; everyone else is denied.

    `source.namespaces` is read from the peer's certificate (SPIFFE `<trust domain>/ns/<ns>/sa/<sa>`), so it
    holds for any trust domain. Prometheus scrapes the sidecar's port 15020, which pilot-agent serves outside
    the inbound interception: authorization policies do not apply to it (the NetworkPolicy still fences it).
    """
    return {
        "apiVersion": SECURITY,
        "kind": "AuthorizationPolicy",
        "metadata": {"name": policy_name(app), "namespace": namespace, "labels": naming.app_labels(app)},
        "spec": {
            "selector": {"matchLabels": naming.selector_labels(app)},
            "action": "ALLOW",
            "rules": [{"from": [{"source": {"namespaces": sorted({*callers, gateway_namespace})}}]}],
        },
    }
