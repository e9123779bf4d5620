"""The stack's GKE cluster (looked up or created) and the Kubernetes provider built from it."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s
import yaml

from ..shared.kube_client import api_client
from ..shared.naming import MANAGED_BY
from .config import ClusterConfig, NodePoolConfig

# Istio's sidecar-injection and validation webhooks listen on 15017; a private cluster's control plane
# reaches the nodes only on 443/10250 unless a firewall rule allows more.
ISTIO_WEBHOOK_PORT = "15017"


# pulumi_gcp.compute's __init__ imports every module of the package, and two we never use say at import that
# they are deprecated.
_UNUSED_DEPRECATED = r"gcp\.compute\.(RouterStatus|MangedSslCertificate) has been deprecated"


def gcp_compute() -> ModuleType:
    """pulumi_gcp.compute, loaded without those two import-time warnings (any other deprecation, e.g. of an
    argument we pass, still shows). Loaded only by a stack that creates its cluster: it takes most of a second."""
    compute = gcp.compute
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", _UNUSED_DEPRECATED, DeprecationWarning)
        _ = compute.Firewall  # pulumi_gcp imports lazily: the first attribute read runs the package's __init__
    return compute


AUTH_PLUGIN = "gke-gcloud-auth-plugin"
# The plugin takes its token from Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS in CI,
# `gcloud auth application-default login` on a workstation, the metadata server on GCP) instead of
# needing a `gcloud auth login` session, which a CI job does not have.
AUTH_PLUGIN_ARGS = ["--use_application_default_credentials"]


def kubeconfig(endpoint: str, ca_certificate: str) -> str:
    """A kubeconfig that authenticates with gke-gcloud-auth-plugin on Application Default Credentials: no
    credential is stored in it. Read by pulumi-kubernetes, istioctl and the switch gate's Python client."""
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
                            "command": AUTH_PLUGIN,
                            "args": list(AUTH_PLUGIN_ARGS),
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
        args["master_authorized_networks_config"] = {"cidr_blocks": [{"cidr_block": cidr} for cidr in cfg.master_authorized_networks]}
    return args


def node_tag(cluster_name: str) -> str:
    """The network tag of the cluster's mesh nodes: the webhook firewall rule opens 15017 on these VMs only."""
    return f"gke-{cluster_name}-mesh-nodes"


def service_account_email(pool: NodePoolConfig, project: str) -> str:
    return f"{pool.account_id}@{project}.iam.gserviceaccount.com"


def existing_cluster_problems(cfg: ClusterConfig, pool: NodePoolConfig | None, found: Any) -> list[str]:
    """What an existing cluster (gcp.container.get_cluster's answer) lacks for this stack, in words.

    The stack expects: Workload Identity on (its pool runs GKE_METADATA), and no node pool named like
    its own unless it is the one this stack created (recognised by the pool's dedicated service account).
    """
    where = f"cluster {cfg.name} ({cfg.location}, project {cfg.project})"
    problems = []
    if not any(getattr(c, "workload_pool", None) for c in found.workload_identity_configs or []):
        problems.append(
            f"{where} has Workload Identity off, but this stack's node pool runs GKE_METADATA, which needs it: "
            f"gcloud container clusters update {cfg.name} --location {cfg.location} --project {cfg.project} "
            f"--workload-pool={cfg.project}.svc.id.goog"
        )
    if pool is not None:
        ours = service_account_email(pool, cfg.gke_project)
        for existing in found.node_pools or []:
            accounts = {c.service_account for c in existing.node_configs or []}
            if existing.name == pool.name and ours not in accounts:
                problems.append(
                    f"{where} already has a node pool named {pool.name!r} that this stack did not create (service account "
                    f"{', '.join(sorted(a for a in accounts if a)) or 'default'}, not {ours}): set nodePool.name to a free name, "
                    f"or adopt that pool with `pulumi import gcp:container/nodePool:NodePool`"
                )
    return problems


def namespace_conflicts(wanted: list[str], existing: dict[str, dict[str, str]], adopt: list[str]) -> list[str]:
    """Namespaces this stack would create that already exist and were not created by it (nor listed to adopt)."""
    foreign = [
        name for name in wanted if name in existing and name not in adopt and any(existing[name].get(k) != v for k, v in MANAGED_BY.items())
    ]
    return [
        f"namespace {name} already exists in the cluster and was not created by this stack: rename the app's namespace, "
        f"or list it in cluster.adoptNamespaces to take it over (its labels are then managed here and destroying the "
        f"stack deletes it)"
        for name in foreign
    ]


def live_namespaces(kubeconfig_text: str) -> dict[str, dict[str, str]]:
    """Labels of every namespace in the cluster, read with the official client (as the switch gate does)."""
    from kubernetes import client

    api = client.CoreV1Api(api_client({"kubeconfig": kubeconfig_text}))
    labels: dict[str, dict[str, str]] = {}
    for ns in api.list_namespace().items:
        assert ns.metadata is not None and ns.metadata.name is not None, "the API server names every namespace it lists"
        labels[ns.metadata.name] = dict(ns.metadata.labels or {})
    return labels


def under_mock_engine() -> bool:
    """The offline plan and the tests have no cluster: live checks are theirs to skip."""
    from pulumi.runtime import mocks, settings

    return isinstance(settings.SETTINGS.monitor, mocks.MockMonitor)


@dataclass(frozen=True)
class GkeClusterArgs:
    config: ClusterConfig
    # The stack's node pool: an existing cluster must not already have a foreign pool of that name.
    node_pool: NodePoolConfig | None = None


class GkeCluster(pulumi.ComponentResource):
    """Exposes name (an Output of the cluster itself), location, project, endpoint, CA and the nodes' network tag."""

    def __init__(self, name: str, args: GkeClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("bluegreen:cluster:GkeCluster", name, None, opts)
        cfg = args.config
        self.location, self.project, self.node_tag = cfg.gke_location, cfg.gke_project, node_tag(cfg.gke_name)
        self.existing: Any = None  # the lookup's answer when the cluster is not managed here
        if cfg.manage:
            # A fixed-name cluster cannot be replaced create-before-delete (409), and delete-first would take
            # every workload down: `protect` makes Pulumi refuse any replacement (and deletion) at plan time,
            # `retain_on_delete` keeps the cluster in GCP should it ever be unprotected and deleted.
            cluster = gcp.container.Cluster(
                cfg.gke_name, opts=pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True), **cluster_args(cfg)
            )
            self._webhook_firewall(cfg)
            if cfg.cloud_nat:
                self._cloud_nat(cfg)
            self.name, self.endpoint = cluster.name, cluster.endpoint
            self.ca_certificate = cluster.master_auth.cluster_ca_certificate
        else:
            # Looked up and checked before anything else is registered: a cluster that does not fit this stack
            # stops the program with what to change, never a 409 halfway through an update.
            found = gcp.container.get_cluster(
                name=cfg.name, location=cfg.location, project=cfg.project, opts=pulumi.InvokeOptions(parent=self)
            )
            problems = existing_cluster_problems(cfg, args.node_pool, found)
            if problems:
                raise pulumi.RunError("the existing cluster does not fit this stack:\n" + "\n".join(problems))
            self.name = pulumi.Output.from_input(found.name)
            self.endpoint = pulumi.Output.from_input(found.endpoint)
            self.ca_certificate = pulumi.Output.from_input(found.master_auths[0].cluster_ca_certificate)
            self.existing = found
        self.kubeconfig: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.all(self.endpoint, self.ca_certificate).apply(lambda a: kubeconfig(*a))
        )
        self.register_outputs({"name": self.name, "endpoint": self.endpoint})

    def check_namespaces(self, wanted: list[str], adopt: list[str]) -> None:
        """On an existing cluster, refuse to take over namespaces this stack did not create (unless adopted).

        pulumi-kubernetes' server-side apply would silently adopt an existing namespace, and destroying the
        stack would then delete it with everything in it. Read live during preview and up; the offline plan
        has no cluster and skips it.
        """
        if self.existing is None or under_mock_engine():
            return
        text = kubeconfig(self.existing.endpoint, self.existing.master_auths[0].cluster_ca_certificate)
        try:
            existing = live_namespaces(text)
        except Exception as err:  # no access, plugin missing: say what was being checked
            raise pulumi.RunError(f"cannot list the namespaces of cluster {self.existing.name} to check them: {err}") from None
        problems = namespace_conflicts(wanted, existing, adopt)
        if problems:
            raise pulumi.RunError("the existing cluster does not fit this stack:\n" + "\n".join(problems))

    def _webhook_firewall(self, cfg: ClusterConfig) -> None:
        gcp_compute().Firewall(
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
        compute = gcp_compute()
        router = compute.Router(f"{cfg.name}-nat-router", project=cfg.project, region=cfg.region, network=cfg.network, opts=child)
        compute.RouterNat(
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
    """The provider for cluster.mode kubeconfig. Unset keys stay unset (None), so the provider itself falls back
    to $KUBECONFIG (then ~/.kube/config) and the current context where `pulumi up` runs."""
    return k8s.Provider(
        "kubeconfig",
        enable_config_map_mutable=True,
        kubeconfig=os.path.expanduser(cfg.kubeconfig) if cfg.kubeconfig else None,
        context=cfg.context,
    )
