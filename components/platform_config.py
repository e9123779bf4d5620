"""Typed config of the platform under the apps: `cluster`, `nodePool` and `istio` in stack config."""
from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, model_validator

from .fields import Cidr, DnsLabel, Model, between, matches, KeyedProblems
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


class ClusterConfig(Model):
    """The stack's GKE cluster: looked up by name (manage: false) or created here (manage: true)."""

    manage: bool = False
    name: ClusterName
    location: GcpLocation
    project: GcpProject
    # Only used when manage is true: a minimal private-nodes cluster whose default pool is removed.
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = "REGULAR"
    network: DnsLabel = "default"
    subnetwork: DnsLabel | None = None
    master_ipv4_cidr_block: Cidr = "172.16.0.0/28"
    master_authorized_networks: list[Cidr] = []
    # Private nodes have no external IPs: without NAT they cannot pull images from docker.io or quay.io.
    # false when the VPC already has its own Cloud NAT in this region.
    cloud_nat: bool = True

    @property
    def region(self) -> str:
        """The region of `location`, which may be a zone such as asia-northeast3-a."""
        return _ZONE_SUFFIX.sub("", self.location)


class Autoscaling(Model):
    """Node counts of the whole pool (all its zones together), not per zone."""

    min_node_count: Annotated[int, between(0, 1000)] = 1
    max_node_count: Annotated[int, between(1, 1000)] = 3

    @model_validator(mode="after")
    def _min_at_most_max(self) -> Autoscaling:
        if self.min_node_count > self.max_node_count:
            raise KeyedProblems([("minNodeCount", f"must be at most maxNodeCount ({self.max_node_count}), got {self.min_node_count}")])
        return self


class Taint(Model):
    key: Annotated[str, Field(min_length=1)]
    value: str = ""
    effect: Literal["NO_SCHEDULE", "PREFER_NO_SCHEDULE", "NO_EXECUTE"] = "NO_SCHEDULE"


class NodePoolConfig(Model):
    name: DnsLabel = "apps"
    machine_type: MachineType = "e2-standard-4"
    disk_size_gb: Annotated[int, between(10, 65536)] = 100
    disk_type: Literal["pd-standard", "pd-balanced", "pd-ssd"] = "pd-balanced"
    autoscaling: Autoscaling = Autoscaling()
    labels: dict[str, str] = {}
    taints: list[Taint] = []
    # The pool's dedicated node service account (never the Compute Engine default one).
    service_account_id: AccountId | None = None

    @property
    def account_id(self) -> str:
        return self.service_account_id or f"{self.name}-nodes"

    @model_validator(mode="after")
    def _derived_account_id_is_valid(self) -> NodePoolConfig:
        if self.service_account_id is None and not _ACCOUNT_ID.match(self.account_id):
            raise KeyedProblems([(
                "serviceAccountId",
                f"is required because the default {self.account_id!r} (<name>-nodes) is not a valid service account id (6-30 characters)",
            )])
        return self


class Addon(Model):
    enabled: bool = True


class JaegerAddon(Addon):
    # Share of requests traced (Telemetry randomSamplingPercentage).
    sampling_percent: Annotated[float, Field(ge=0, le=100)] = 1.0


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
    # istioctl on PATH must be this release; the install refuses to run otherwise.
    version: IstioVersion
    operator: IstioOperatorSpec = DEFAULT_OPERATOR
    addons: Addons = Addons()

    @model_validator(mode="after")
    def _tag_matches_version(self) -> IstioConfig:
        tag = self.operator.tag
        if tag is not None and tag != self.version and not tag.startswith(f"{self.version}-"):
            raise KeyedProblems([
                ("operator.tag", f"must be istio.version ({self.version}) or a variant such as {self.version}-distroless, got {tag!r}")
            ])
        return self
