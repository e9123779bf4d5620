"""NodePool: the GKE node pool the apps and gateways run on, with its own least-privilege service account."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp

from .platform_config import NodePoolConfig

POOL_LABEL = "cloud.google.com/gke-nodepool"
# What nodes need and nothing more: write logs/metrics (GKE's default node role) and pull images.
NODE_ROLES = ("roles/container.defaultNodeServiceAccount", "roles/artifactregistry.reader")
_K8S_EFFECT = {"NO_SCHEDULE": "NoSchedule", "PREFER_NO_SCHEDULE": "PreferNoSchedule", "NO_EXECUTE": "NoExecute"}


def placement(cfg: NodePoolConfig) -> dict[str, Any]:
    """Pod spec fields that put a pod on this pool: its nodeSelector, and tolerations for its taints."""
    fields: dict[str, Any] = {"nodeSelector": {POOL_LABEL: cfg.name}}
    if cfg.taints:
        fields["tolerations"] = [
            {"key": t.key, "operator": "Equal", "value": t.value, "effect": _K8S_EFFECT[t.effect]} for t in cfg.taints
        ]
    return fields


def node_pool_args(cfg: NodePoolConfig, cluster: str, location: str, project: str, service_account: pulumi.Input[str]) -> dict[str, Any]:
    return {
        "name": cfg.name,
        "cluster": cluster,
        "location": location,
        "project": project,
        "autoscaling": {"min_node_count": cfg.autoscaling.min_node_count, "max_node_count": cfg.autoscaling.max_node_count},
        "initial_node_count": cfg.autoscaling.min_node_count,
        "management": {"auto_repair": True, "auto_upgrade": True},
        "node_config": {
            "machine_type": cfg.machine_type,
            "disk_size_gb": cfg.disk_size_gb,
            "disk_type": cfg.disk_type,
            "image_type": "COS_CONTAINERD",
            "labels": dict(cfg.labels),
            "taints": [{"key": t.key, "value": t.value, "effect": t.effect} for t in cfg.taints],
            "service_account": service_account,
            "oauth_scopes": ["https://www.googleapis.com/auth/cloud-platform"],
            "shielded_instance_config": {"enable_secure_boot": True, "enable_integrity_monitoring": True},
            # Pods see the GKE metadata server (Workload Identity), never the node's credentials.
            "workload_metadata_config": {"mode": "GKE_METADATA"},
        },
    }


@dataclass(frozen=True)
class NodePoolArgs:
    config: NodePoolConfig
    cluster: str
    location: str
    project: str


class NodePool(pulumi.ComponentResource):
    def __init__(self, name: str, args: NodePoolArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("bluegreen:node_pool:NodePool", name, None, opts)
        cfg = args.config
        child = pulumi.ResourceOptions(parent=self)
        self.service_account = gcp.serviceaccount.Account(
            cfg.account_id,
            account_id=cfg.account_id,
            project=args.project,
            display_name=f"GKE nodes of pool {cfg.name} ({args.cluster})",
            opts=child,
        )
        member = self.service_account.email.apply(lambda email: f"serviceAccount:{email}")
        roles = [
            gcp.projects.IAMMember(f"{cfg.account_id}-{role.split('/')[1]}", project=args.project, role=role, member=member, opts=child)
            for role in NODE_ROLES
        ]
        self.pool = gcp.container.NodePool(
            cfg.name,
            opts=pulumi.ResourceOptions(parent=self, depends_on=roles),
            **node_pool_args(cfg, args.cluster, args.location, args.project, self.service_account.email),
        )
        self.name = self.pool.name
        self.register_outputs({"name": self.name, "serviceAccount": self.service_account.email})
