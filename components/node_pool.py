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


# GKE's initial size of a new pool (per zone); fixed because changing it would force a replacement of
# the fixed-name pool, and ignored afterwards: the autoscaler owns the size from then on.
INITIAL_NODE_COUNT = 1


def node_pool_args(
    cfg: NodePoolConfig, cluster: pulumi.Input[str], location: str, project: str, network_tags: list[str],
    service_account: pulumi.Input[str],
) -> dict[str, Any]:
    return {
        "name": cfg.name,
        "cluster": cluster,
        "location": location,
        "project": project,
        # Totals for the whole pool: per-zone limits would triple on a regional cluster.
        "autoscaling": {
            "total_min_node_count": cfg.autoscaling.min_node_count,
            "total_max_node_count": cfg.autoscaling.max_node_count,
            "location_policy": "BALANCED",
        },
        "initial_node_count": INITIAL_NODE_COUNT,
        "management": {"auto_repair": True, "auto_upgrade": True},
        "node_config": {
            "machine_type": cfg.machine_type,
            "disk_size_gb": cfg.disk_size_gb,
            "disk_type": cfg.disk_type,
            "image_type": "COS_CONTAINERD",
            "labels": dict(cfg.labels),
            "taints": [{"key": t.key, "value": t.value, "effect": t.effect} for t in cfg.taints],
            "tags": list(network_tags),
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
    cluster: pulumi.Input[str]  # the cluster's name as an Output of the cluster, so the pool waits for it
    location: str
    project: str
    network_tags: list[str]  # firewall rules target the pool's VMs by these


class NodePool(pulumi.ComponentResource):
    def __init__(self, name: str, args: NodePoolArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("bluegreen:node_pool:NodePool", name, None, opts)
        cfg = args.config
        child = pulumi.ResourceOptions(parent=self)
        self.service_account = gcp.serviceaccount.Account(
            cfg.account_id,
            account_id=cfg.account_id,
            project=args.project,
            display_name=f"GKE nodes of node pool {cfg.name}",
            opts=child,
        )
        roles = [
            gcp.projects.IAMMember(
                f"{cfg.account_id}-{role.split('/')[1]}", project=args.project, role=role, member=self.service_account.member, opts=child
            )
            for role in NODE_ROLES
        ]
        self.pool = gcp.container.NodePool(
            cfg.name,
            opts=pulumi.ResourceOptions(parent=self, depends_on=roles, ignore_changes=["initialNodeCount"]),
            **node_pool_args(cfg, args.cluster, args.location, args.project, args.network_tags, self.service_account.email),
        )
        self.name = self.pool.name
        self.register_outputs({"name": self.name, "serviceAccount": self.service_account.email})
