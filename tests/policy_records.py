"""A small compliant stack as policy records, built by hand so policy tests do not move with the program.

`good_stack()` passes every rule; each test breaks one thing in a copy.
"""

from __future__ import annotations

import copy
from typing import Any

from policies.guardrails.model import Resource

PROJECT = "bluegreen-platform"


def urn(type_: str, name: str, stack: str = "stg") -> str:
    return f"urn:pulumi:{stack}::{PROJECT}::{type_}::{name}"


def k8s(type_: str, manifest: dict[str, Any], stack: str = "stg", depends: tuple[str, ...] = ()) -> Resource:
    name = manifest["metadata"]["name"]
    return Resource(type_, name, urn(type_, name, stack), manifest, dependencies=depends)


def container(image: str = "asia-docker.pkg.dev/acme/web/front:1.4.2") -> dict[str, Any]:
    probe = {"httpGet": {"path": "/healthz", "port": "http"}}
    return {
        "name": "front",
        "image": image,
        "ports": [{"name": "http", "containerPort": 8080}],
        "readinessProbe": probe,
        "livenessProbe": probe,
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
        },
    }


def deployment(color: str, replicas: int = 3, stack: str = "stg") -> Resource:
    labels = {"app": "front", "version": color}
    return k8s(
        "kubernetes:apps/v1:Deployment",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": f"front-{color}", "namespace": "app", "labels": labels},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "securityContext": {
                            "runAsNonRoot": True,
                            "runAsUser": 10001,
                            "runAsGroup": 10001,
                            "seccompProfile": {"type": "RuntimeDefault"},
                        },
                        "containers": [container(f"asia-docker.pkg.dev/acme/web/front:1.{4 if color == 'blue' else 5}.0")],
                    },
                },
            },
        },
        stack,
    )


def virtual_service(active: str = "blue", idle_weight: int = 0, stack: str = "stg", depends: tuple[str, ...] = ()) -> Resource:
    idle = "green" if active == "blue" else "blue"
    host = "front.app.svc.cluster.local"
    dest = lambda color, weight: {"destination": {"host": host, "subset": color, "port": {"number": 8080}}, "weight": weight}  # noqa: E731
    default = [dest(active, 100 - idle_weight)] + ([dest(idle, idle_weight)] if idle_weight else [])
    return k8s(
        "kubernetes:networking.istio.io/v1:VirtualService",
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "VirtualService",
            "metadata": {"name": "front", "namespace": "app", "labels": {"app": "front"}},
            "spec": {
                "hosts": ["front.stg.example.com", host],
                "gateways": ["app/bluegreen-gateway", "mesh"],
                "http": [
                    {"name": "preview-header", "match": [{"headers": {"x-preview": {"exact": "true"}}}], "route": [dest(idle, 100)]},
                    {"name": "default", "route": default},
                ],
            },
        },
        stack,
        depends,
    )


def good_stack(stack: str = "stg", active: str = "blue", idle_weight: int = 0) -> list[Resource]:
    blue, green = deployment("blue", stack=stack), deployment("green", stack=stack)
    return [
        k8s(
            "kubernetes:core/v1:Namespace",
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": "app", "labels": {"istio-injection": "enabled"}},
            },
            stack,
        ),
        k8s(
            "kubernetes:security.istio.io/v1:PeerAuthentication",
            {
                "apiVersion": "security.istio.io/v1",
                "kind": "PeerAuthentication",
                "metadata": {"name": "default", "namespace": "app"},
                "spec": {"mtls": {"mode": "STRICT"}},
            },
            stack,
        ),
        blue,
        green,
        k8s(
            "kubernetes:core/v1:Service",
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "front", "namespace": "app"},
                "spec": {"selector": {"app": "front"}, "ports": [{"name": "http", "port": 8080, "targetPort": "http"}]},
            },
            stack,
        ),
        k8s(
            "kubernetes:networking.istio.io/v1:DestinationRule",
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "DestinationRule",
                "metadata": {"name": "front", "namespace": "app"},
                "spec": {
                    "host": "front.app.svc.cluster.local",
                    "subsets": [{"name": c, "labels": {"version": c}} for c in ("blue", "green")],
                },
            },
            stack,
        ),
        virtual_service(active, idle_weight, stack, depends=(blue.urn, green.urn)),
        k8s(
            "kubernetes:core/v1:ConfigMap",
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "front-bluegreen", "namespace": "app"},
                "data": {"activeColor": active},
            },
            stack,
        ),
        gateway(stack),
        node_pool(stack),
    ]


def gateway(stack: str = "stg") -> Resource:
    return k8s(
        "kubernetes:networking.istio.io/v1:Gateway",
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "Gateway",
            "metadata": {"name": "bluegreen-gateway", "namespace": "app"},
            "spec": {
                "selector": {"istio": "ingressgateway"},
                "servers": [
                    {
                        "port": {"number": 443, "name": "https", "protocol": "HTTPS"},
                        "hosts": ["front.example.com"],
                        "tls": {"mode": "SIMPLE", "credentialName": "front-tls"},
                    },
                    {
                        "port": {"number": 80, "name": "http", "protocol": "HTTP"},
                        "hosts": ["front.example.com"],
                        "tls": {"httpsRedirect": True},
                    },
                ],
            },
        },
        stack,
    )


def node_pool(stack: str = "stg") -> Resource:
    type_ = "gcp:container/nodePool:NodePool"
    return Resource(
        type_,
        "apps",
        urn(type_, "apps", stack),
        {
            "cluster": "bluegreen",
            "management": {"autoRepair": True, "autoUpgrade": True},
            "nodeConfig": {
                "serviceAccount": "apps-nodes@acme-stg.iam.gserviceaccount.com",
                "shieldedInstanceConfig": {"enableSecureBoot": True, "enableIntegrityMonitoring": True},
                "workloadMetadataConfig": {"mode": "GKE_METADATA"},
            },
        },
    )


def edited(resources: list[Resource], kind: str, edit, name: str | None = None) -> list[Resource]:
    """A copy of the stack where `edit(props)` changed the props of each resource of that kind (type suffix)."""
    out = []
    for r in resources:
        if r.type.endswith(":" + kind) and name in (None, r.name):
            props = copy.deepcopy(dict(r.props))
            edit(props)
            r = Resource(r.type, r.name, r.urn, props, r.parent, r.dependencies)
        out.append(r)
    return out
