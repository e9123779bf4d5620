"""Typed config of the platform under the apps: `cluster`, `nodePool`, `istio` and `gateway` in stack config."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic.alias_generators import to_camel

from ..shared.fields import (
    Boolean,
    Cidr,
    DnsLabel,
    Hostname,
    KeyedProblems,
    Labels,
    Model,
    Number,
    SecretName,
    WholeNumber,
    between,
    matches,
)
from ..shared.naming import ISTIO_NAMESPACE
from .istio_operator import Component, Components, IstioOperatorSpec

GcpLocation = Annotated[
    str, matches(re.compile(r"^[a-z]+-[a-z]+[0-9]+(-[a-z])?$"), "a GCP region or zone such as europe-west1 or europe-west1-b")
]
_ZONE_SUFFIX = re.compile(r"-[a-z]$")
GcpProject = Annotated[str, matches(re.compile(r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$"), "a GCP project id such as acme-prod")]
ClusterName = Annotated[
    str, matches(re.compile(r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$"), "a GKE cluster name (lowercase, starts with a letter, at most 40)")
]
MachineType = Annotated[str, matches(re.compile(r"^[a-z][a-z0-9]*-[a-z0-9-]+$"), "a Compute Engine machine type such as e2-standard-4")]
_ACCOUNT_ID = re.compile(r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$")
AccountId = Annotated[str, matches(_ACCOUNT_ID, "a service account id (6-30 lowercase letters, digits, '-')")]
IstioVersion = Annotated[str, matches(re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+$"), "an Istio release x.y.z such as 1.30.0")]


_GKE_ONLY = (
    "manage",
    "release_channel",
    "network",
    "subnetwork",
    "master_ipv4_cidr_block",
    "master_authorized_networks",
    "cloud_nat",
    "adopt_namespaces",
)
_GKE_REQUIRED = ("name", "location", "project")


class ClusterConfig(Model):
    """Where the apps run.

    mode gke: a GKE cluster, looked up by name (manage: false) or created here (manage: true).
    mode kubeconfig: any conformant cluster reached by a kubeconfig (kind, minikube, EKS, a GKE cluster
    managed elsewhere); no GCP resource is created or read.
    """

    mode: Literal["gke", "kubeconfig"] = "gke"
    manage: Boolean = False
    name: ClusterName | None = None
    location: GcpLocation | None = None
    project: GcpProject | None = None
    # Only used when manage is true: a minimal private-nodes cluster whose default pool is removed.
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = "REGULAR"
    network: DnsLabel = "default"
    subnetwork: DnsLabel | None = None
    master_ipv4_cidr_block: Cidr = "172.16.0.0/28"
    master_authorized_networks: list[Cidr] = []
    # Private nodes have no external IPs: without NAT they cannot pull images from docker.io or quay.io.
    # false when the VPC already has its own Cloud NAT in this region.
    cloud_nat: Boolean = True
    # Only used when manage is false: namespaces that already exist in the cluster and that this stack may take
    # over (label, then own: destroying the stack deletes them). Any other existing namespace the stack would
    # create stops `pulumi preview`/`up` with a clear message.
    adopt_namespaces: list[DnsLabel] = []
    # Only used in mode kubeconfig: the file (default: $KUBECONFIG, then ~/.kube/config) and its context
    # (default: the file's current context).
    kubeconfig: Annotated[str, Field(min_length=1)] | None = None
    context: Annotated[str, Field(min_length=1)] | None = None

    @property
    def kubeconfig_access(self) -> dict[str, str]:
        """Mode kubeconfig: how a client outside Pulumi's provider reaches the cluster (kube_client.api_client):
        only the keys that are set ({} = $KUBECONFIG, then ~/.kube/config, and its current context)."""
        return {k: v for k, v in {"path": self.kubeconfig, "context": self.context}.items() if v}

    @model_validator(mode="after")
    def _keys_fit_the_mode(self) -> ClusterConfig:
        problems = []
        if self.mode == "gke":
            problems += [(key, "is required when cluster.mode is gke") for key in _GKE_REQUIRED if getattr(self, key) is None]
            problems += [
                (key, "applies only when cluster.mode is kubeconfig") for key in ("kubeconfig", "context") if key in self.model_fields_set
            ]
        else:
            problems += [
                (to_camel(key), "applies only when cluster.mode is gke")
                for key in (*_GKE_REQUIRED, *_GKE_ONLY)
                if key in self.model_fields_set
            ]
        if problems:
            raise KeyedProblems(problems)
        return self

    @property
    def gke(self) -> bool:
        return self.mode == "gke"

    # name, location and project, for code that runs only in mode gke, where they are validated as set.
    @property
    def gke_name(self) -> str:
        return self._gke_required("name", self.name)

    @property
    def gke_location(self) -> str:
        return self._gke_required("location", self.location)

    @property
    def gke_project(self) -> str:
        return self._gke_required("project", self.project)

    def _gke_required(self, key: str, value: str | None) -> str:
        if value is None:
            raise ValueError(f"cluster.{key} is only set in cluster.mode gke, this stack's mode is {self.mode}")
        return value

    @property
    def region(self) -> str:
        """The region of `location`, which may be a zone such as asia-northeast3-a."""
        return _ZONE_SUFFIX.sub("", self.location or "")


class Autoscaling(Model):
    """Node counts of the whole pool (all its zones together), not per zone."""

    min_node_count: Annotated[WholeNumber, between(0, 1000)] = 1
    max_node_count: Annotated[WholeNumber, between(1, 1000)] = 3

    @model_validator(mode="after")
    def _min_at_most_max(self) -> Autoscaling:
        if self.min_node_count > self.max_node_count:
            raise KeyedProblems([("minNodeCount", f"must be at most maxNodeCount ({self.max_node_count}), got {self.min_node_count}")])
        return self


class Taint(Model):
    key: Annotated[str, Field(min_length=1)]
    value: str = ""
    effect: Literal["NO_SCHEDULE", "PREFER_NO_SCHEDULE", "NO_EXECUTE"] = "NO_SCHEDULE"


# The nodePool keys that place pods (nodeSelector on the pool's name, tolerations for its taints).
PLACEMENT_KEYS = ("name", "taints")


class NodePoolConfig(Model):
    name: DnsLabel = "apps"
    machine_type: MachineType = "e2-standard-4"
    disk_size_gb: Annotated[WholeNumber, between(10, 65536)] = 100
    disk_type: Literal["pd-standard", "pd-balanced", "pd-ssd"] = "pd-balanced"
    autoscaling: Autoscaling = Autoscaling()
    labels: Labels = {}
    taints: list[Taint] = []
    # The pool's dedicated node service account (never the Compute Engine default one).
    service_account_id: AccountId | None = None
    # Projects whose Artifact Registry the nodes may read. Default: the cluster's project and every project
    # named by an image (<location>-docker.pkg.dev/<project>/..., gcr.io/<project>/...). Set to override.
    image_projects: list[GcpProject] | None = None

    @property
    def account_id(self) -> str:
        return self.service_account_id or f"{self.name}-nodes"

    @model_validator(mode="after")
    def _derived_account_id_is_valid(self) -> NodePoolConfig:
        if self.service_account_id is None and not _ACCOUNT_ID.match(self.account_id):
            raise KeyedProblems(
                [
                    (
                        "serviceAccountId",
                        f"is required because the default {self.account_id!r} (<name>-nodes) is not a valid service account id (6-30 characters)",
                    )
                ]
            )
        return self


class Addon(Model):
    enabled: Boolean = True


class JaegerAddon(Addon):
    # Share of requests traced (Telemetry randomSamplingPercentage).
    sampling_percent: Annotated[Number, Field(ge=0, le=100)] = 1.0


class Addons(Model):
    prometheus: Addon = Addon()
    grafana: Addon = Addon()
    kiali: Addon = Addon()
    jaeger: JaegerAddon = JaegerAddon()

    @model_validator(mode="after")
    def _kiali_has_prometheus(self) -> Addons:
        if self.kiali.enabled and not self.prometheus.enabled:
            raise KeyedProblems([("kiali.enabled", "requires prometheus.enabled: Kiali draws the mesh from Prometheus metrics")])
        return self


DEFAULT_OPERATOR = IstioOperatorSpec(components=Components(cni=Component(enabled=True)))


class IstioConfig(Model):
    """mode install: istioctl installs the mesh from `operator`, plus the addons. mode existing: the mesh is
    installed separately (or Google's managed service mesh); this stack only adds the mesh objects it owns."""

    mode: Literal["install", "existing"] = "install"
    # istioctl on PATH must be this release; the install refuses to run otherwise.
    version: IstioVersion | None = None
    operator: IstioOperatorSpec = DEFAULT_OPERATOR
    addons: Addons = Addons()
    # Opt-in: destroying the stack (or deleting the install resource) runs `istioctl uninstall`. Off by
    # default so that no change of the program can remove the mesh as a side effect.
    uninstall_on_destroy: Boolean = False

    @model_validator(mode="after")
    def _keys_fit_the_mode(self) -> IstioConfig:
        if self.mode == "install" and self.version is None:
            raise KeyedProblems([("version", "is required when istio.mode is install")])
        if self.mode == "existing":
            extra = [to_camel(key) for key in ("operator", "addons", "uninstall_on_destroy") if key in self.model_fields_set]
            if extra:
                raise KeyedProblems(
                    [(key, "applies only when istio.mode is install: this stack does not install the mesh") for key in extra]
                )
        return self

    @property
    def installs(self) -> bool:
        return self.mode == "install"

    def addon_enabled(self, addon: str) -> bool:
        """Whether this stack installs `addon` (never when the mesh is installed elsewhere)."""
        return self.installs and getattr(self.addons, addon).enabled

    @model_validator(mode="after")
    def _tag_matches_version(self) -> IstioConfig:
        tag = self.operator.tag
        if tag is not None and tag != self.version and not tag.startswith(f"{self.version}-"):
            raise KeyedProblems(
                [("operator.tag", f"must be istio.version ({self.version}) or a variant such as {self.version}-distroless, got {tag!r}")]
            )
        return self


class GatewayTls(Model):
    """HTTPS on port 443 with a certificate Secret in the ingress gateway's namespace."""

    credential_name: SecretName
    https_redirect: Boolean = True


class GatewayConfig(Model):
    name: DnsLabel = "bluegreen-gateway"
    namespace: DnsLabel
    hosts: Annotated[list[Hostname], Field(min_length=1)]
    # The ingress gateway pods this Gateway binds to, and the namespace they run in.
    selector: Labels = {"istio": "ingressgateway"}
    workload_namespace: DnsLabel = ISTIO_NAMESPACE
    tls: GatewayTls | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    def serves(self, host: str) -> bool:
        return any(host == h or (h.startswith("*.") and host.endswith(h[1:])) for h in self.hosts)
