"""MeshNamespace: an app namespace in the mesh (sidecar injection, restricted Pod Security,
STRICT mTLS, and a NetworkPolicy admitting only the mesh's own traffic)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from ..shared.k8s import apply_manifest
from . import mesh_security


@dataclass(frozen=True)
class MeshNamespaceArgs:
    name: str
    # The ingress gateway pods allowed in (labels, namespace), and whether Prometheus may scrape the sidecars.
    gateway_labels: dict[str, str]
    gateway_namespace: str
    prometheus: bool


class MeshNamespace(pulumi.ComponentResource):
    def __init__(self, name: str, args: MeshNamespaceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("bluegreen:mesh_namespace:MeshNamespace", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.namespace = apply_manifest(args.name, mesh_security.namespace(args.name), child)
        in_namespace = pulumi.ResourceOptions(parent=self, depends_on=[self.namespace])
        self.peer_authentication = apply_manifest(args.name, mesh_security.peer_authentication(args.name), in_namespace)
        self.network_policy = apply_manifest(
            args.name, mesh_security.network_policy(args.name, args.gateway_labels, args.gateway_namespace, args.prometheus), in_namespace
        )
        self.name = args.name
        self.register_outputs({"name": args.name})
