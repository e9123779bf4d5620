"""NodePool: the GKE node pool the apps and gateways run on, with its own least-privilege service account."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_gcp as gcp

from ..shared.colors import COLORS
from .config import NodePoolConfig

POOL_LABEL = "cloud.google.com/gke-nodepool"
# What nodes need and nothing more: write logs/metrics (GKE's default node role) on the cluster's project,
# and pull images (the reader role) on every project the stack's images come from.
NODE_ROLES = ("roles/container.defaultNodeServiceAccount", "roles/artifactregistry.reader")
IMAGE_READER = "roles/artifactregistry.reader"
# Registries the node service account can be granted: Artifact Registry (<location>-docker.pkg.dev/<project>/...)
# and gcr.io hosts (served by Artifact Registry in <project>). Any other host is pulled without credentials.
_GOOGLE_REGISTRY = re.compile(
    r"^(?:[a-z0-9-]+-docker\.pkg\.dev|(?:[a-z]+\.)?gcr\.io)/(?P<project>(?:[a-z0-9-]+\.[a-z]+:)?[a-z][-a-z0-9]*[a-z0-9])/"
)


@dataclass(frozen=True)
class ImageAccess:
    projects: list[str]  # projects whose Artifact Registry the nodes get read access on
    ungranted: list[str]  # "<key path>: <why>" for images this stack cannot grant access to


def _image_refs(stack: Any) -> list[tuple[str, str]]:
    """(key path, image reference) of every image the stack's pods run from config."""
    refs = [
        (f"apps.{name}.{color}.image", app.color(color).image)
        for name, app in stack.apps.items()
        for color in COLORS
        if app.color(color).image
    ]
    if stack.istio.installs and stack.istio.operator.hub:
        refs.append(("istio.operator.hub", stack.istio.operator.hub + "/"))
    return refs


def image_access(stack: Any) -> ImageAccess:
    """Where the node pool needs read access: `nodePool.imageProjects` when set, else the cluster's project plus
    each Artifact Registry project named by an image. Images on other hosts are reported: the nodes pull them
    anonymously, so they must be public (a private registry needs credentials this stack does not manage)."""
    derived, ungranted = [stack.cluster.project], []
    for path, ref in _image_refs(stack):
        found = _GOOGLE_REGISTRY.match(ref)
        if found:
            derived.append(found["project"])
            continue
        host = ref.split("/", 1)[0] if "/" in ref and any(c in ref.split("/", 1)[0] for c in ".:") else "docker.io"
        if host not in ("docker.io", "quay.io", "ghcr.io", "registry.k8s.io", "gcr.io"):
            ungranted.append(
                f"{path}: {ref.rstrip('/')} is on {host}, not Artifact Registry: the nodes pull it without credentials, "
                f"so it must be public, or grant the pool's service account access there yourself"
            )
    configured = stack.node_pool.image_projects
    projects = list(configured) if configured is not None else derived
    return ImageAccess(list(dict.fromkeys(projects)), ungranted)


_K8S_EFFECT = {"NO_SCHEDULE": "NoSchedule", "PREFER_NO_SCHEDULE": "PreferNoSchedule", "NO_EXECUTE": "NoExecute"}


def placement(cfg: NodePoolConfig) -> dict[str, Any]:
    """Pod spec fields that put a pod on this pool: its nodeSelector, and tolerations for its taints."""
    fields: dict[str, Any] = {"nodeSelector": {POOL_LABEL: cfg.name}}
    if cfg.taints:
        fields["tolerations"] = [{"key": t.key, "operator": "Equal", "value": t.value, "effect": _K8S_EFFECT[t.effect]} for t in cfg.taints]
    return fields


# GKE's initial size of a new pool (per zone); fixed because changing it would force a replacement of
# the fixed-name pool, and ignored afterwards: the autoscaler owns the size from then on.
INITIAL_NODE_COUNT = 1


def node_pool_args(
    cfg: NodePoolConfig,
    cluster: pulumi.Input[str],
    location: str,
    project: str,
    network_tags: list[str],
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
    image_projects: list[str] = field(default_factory=list)  # Artifact Registry projects the nodes pull from


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
        grants = [(role, args.project) for role in NODE_ROLES if role != IMAGE_READER]
        grants += [(IMAGE_READER, project) for project in args.image_projects]
        roles = [
            gcp.projects.IAMMember(
                # The cluster project's grant keeps its original name (and URN); others are suffixed by project.
                f"{cfg.account_id}-{role.split('/')[1]}" + ("" if project == args.project else f"-{project}"),
                project=project,
                role=role,
                member=self.service_account.member,
                opts=child,
            )
            for role, project in grants
        ]
        self.pool = gcp.container.NodePool(
            cfg.name,
            # The pool's name is fixed, so a replacement must delete the old pool first (create-first is a 409);
            # its pods are evicted and move to other pools, or stay Pending until the new pool has nodes.
            opts=pulumi.ResourceOptions(parent=self, depends_on=roles, ignore_changes=["initialNodeCount"], delete_before_replace=True),
            **node_pool_args(cfg, args.cluster, args.location, args.project, args.network_tags, self.service_account.email),
        )
        self.name = self.pool.name
        self.register_outputs({"name": self.name, "serviceAccount": self.service_account.email})
