"""The stack's GKE cluster (looked up or created) and the Kubernetes provider built from it."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s
import yaml

from .platform_config import ClusterConfig

# Istio's sidecar-injection and validation webhooks listen on 15017; a private cluster's control plane
# reaches the nodes only on 443/10250 unless a firewall rule allows more.
ISTIO_WEBHOOK_PORT = "15017"


def kubeconfig(endpoint: str, ca_certificate: str) -> str:
    """A kubeconfig that authenticates with gke-gcloud-auth-plugin: no credential is stored in it."""
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "gke", "cluster": {"server": f"https://{endpoint}", "certificate-authority-data": ca_certificate}}],
            "users": [
                {
                    "name": "gke",
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "gke-gcloud-auth-plugin",
                            "installHint": "Install gke-gcloud-auth-plugin: gcloud components install gke-gcloud-auth-plugin",
                            "provideClusterInfo": True,
                            "interactiveMode": "Never",
                        }
                    },
                }
            ],
            "contexts": [{"name": "gke", "context": {"cluster": "gke", "user": "gke"}}],
            "current-context": "gke",
        },
        sort_keys=False,
    )


def cluster_args(cfg: ClusterConfig) -> dict[str, Any]:
    """A minimal private-nodes, VPC-native cluster; node pools are separate resources."""
    args: dict[str, Any] = {
        "name": cfg.name,
        "location": cfg.location,
        "project": cfg.project,
        "network": cfg.network,
        "remove_default_node_pool": True,
        "initial_node_count": 1,
        "deletion_protection": True,
        "release_channel": {"channel": cfg.release_channel},
        "networking_mode": "VPC_NATIVE",
        "ip_allocation_policy": {},
        # Dataplane V2 enforces the apps' NetworkPolicies.
        "datapath_provider": "ADVANCED_DATAPATH",
        "workload_identity_config": {"workload_pool": f"{cfg.project}.svc.id.goog"},
        "enable_shielded_nodes": True,
        "private_cluster_config": {
            "enable_private_nodes": True,
            "enable_private_endpoint": False,
            "master_ipv4_cidr_block": cfg.master_ipv4_cidr_block,
        },
    }
    if cfg.subnetwork:
        args["subnetwork"] = cfg.subnetwork
    if cfg.master_authorized_networks:
        args["master_authorized_networks_config"] = {
            "cidr_blocks": [{"cidr_block": cidr} for cidr in cfg.master_authorized_networks]
        }
    return args


def node_tag(cluster_name: str) -> str:
    """The network tag of the cluster's mesh nodes: the webhook firewall rule opens 15017 on these VMs only."""
    return f"gke-{cluster_name}-mesh-nodes"


@dataclass(frozen=True)
class GkeClusterArgs:
    config: ClusterConfig


class GkeCluster(pulumi.ComponentResource):
    """Exposes name (an Output of the cluster itself), location, project, endpoint, CA and the nodes' network tag."""

    def __init__(self, name: str, args: GkeClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("bluegreen:cluster:GkeCluster", name, None, opts)
        cfg = args.config
        self.location, self.project, self.node_tag = cfg.location, cfg.project, node_tag(cfg.name)
        if cfg.manage:
            cluster = gcp.container.Cluster(cfg.name, opts=pulumi.ResourceOptions(parent=self), **cluster_args(cfg))
            self._webhook_firewall(cfg)
            if cfg.cloud_nat:
                self._cloud_nat(cfg)
            self.name, self.endpoint = cluster.name, cluster.endpoint
            self.ca_certificate = cluster.master_auth.cluster_ca_certificate
        else:
            found = gcp.container.get_cluster_output(
                name=cfg.name, location=cfg.location, project=cfg.project, opts=pulumi.InvokeOutputOptions(parent=self)
            )
            self.name, self.endpoint = found.name, found.endpoint
            self.ca_certificate = found.master_auths[0].cluster_ca_certificate
        self.kubeconfig = pulumi.Output.secret(pulumi.Output.all(self.endpoint, self.ca_certificate).apply(lambda a: kubeconfig(*a)))
        self.register_outputs({"name": self.name, "endpoint": self.endpoint})

    def _webhook_firewall(self, cfg: ClusterConfig) -> None:
        gcp.compute.Firewall(
            f"{cfg.name}-istio-webhooks",
            project=cfg.project,
            network=cfg.network,
            direction="INGRESS",
            source_ranges=[cfg.master_ipv4_cidr_block],
            target_tags=[self.node_tag],
            allows=[{"protocol": "tcp", "ports": [ISTIO_WEBHOOK_PORT]}],
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _cloud_nat(self, cfg: ClusterConfig) -> None:
        """Egress for private nodes: image pulls from public registries (docker.io, quay.io)."""
        child = pulumi.ResourceOptions(parent=self)
        router = gcp.compute.Router(f"{cfg.name}-nat-router", project=cfg.project, region=cfg.region, network=cfg.network, opts=child)
        gcp.compute.RouterNat(
            f"{cfg.name}-nat",
            project=cfg.project,
            region=cfg.region,
            router=router.name,
            nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
            log_config={"enable": True, "filter": "ERRORS_ONLY"},
            opts=child,
        )


def kubernetes_provider(cluster: GkeCluster, depends_on: list[pulumi.Resource]) -> k8s.Provider:
    """The provider of every Kubernetes resource; it waits for `depends_on` (the node pool)."""
    return k8s.Provider(
        "gke",
        kubeconfig=cluster.kubeconfig,
        # The app's state ConfigMap is updated in place on a flip instead of replaced.
        enable_config_map_mutable=True,
        opts=pulumi.ResourceOptions(depends_on=depends_on),
    )


def kubeconfig_provider(cfg: ClusterConfig) -> k8s.Provider:
    """The provider for cluster.mode kubeconfig. Unset keys stay unset, so the provider itself falls back
    to $KUBECONFIG (then ~/.kube/config) and the current context where `pulumi up` runs."""
    settings = {"kubeconfig": os.path.expanduser(cfg.kubeconfig) if cfg.kubeconfig else None, "context": cfg.context}
    return k8s.Provider("kubeconfig", enable_config_map_mutable=True, **{k: v for k, v in settings.items() if v is not None})
