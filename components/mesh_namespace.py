"""MeshNamespace: an app namespace in the mesh (sidecar injection, restricted Pod Security)."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi

from . import workload
from .k8s import apply_manifest


@dataclass(frozen=True)
class MeshNamespaceArgs:
    name: str


class MeshNamespace(pulumi.ComponentResource):
    def __init__(self, name: str, args: MeshNamespaceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("bluegreen:mesh_namespace:MeshNamespace", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.namespace = apply_manifest(args.name, workload.namespace(args.name), child)
        self.name = args.name
        self.register_outputs({"name": args.name})
