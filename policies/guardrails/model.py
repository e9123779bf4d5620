"""The neutral record every rule reads, and helpers over Kubernetes-shaped props.

Props are what the engine sees: camelCase manifests for `kubernetes:*` types, pulumi-gcp engine
names (e.g. `nodeConfig.workloadMetadataConfig.mode`) for `gcp:*` types.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any


class _Unknown:
    """A value the engine cannot know during preview (an output of a resource not yet created)."""

    def __repr__(self) -> str:
        return "<unknown during preview>"


UNKNOWN = _Unknown()


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    parent: str = ""
    dependencies: tuple[str, ...] = ()

    @property
    def stack(self) -> str:
        # urn:pulumi:<stack>::<project>::<type chain>::<name>
        return self.urn.removeprefix("urn:pulumi:").split("::", 1)[0]

    # Cached: the stack-wide rules ask every resource for it many times (a frozen dataclass still has a __dict__).
    @cached_property
    def group_kind(self) -> tuple[str, str] | None:
        """(API group, kind) of a Kubernetes resource, from its type token `kubernetes:<group>/<version>:<Kind>`."""
        parts = self.type.split(":")
        if len(parts) != 3 or parts[0] != "kubernetes":
            return None
        return parts[1].split("/")[0], parts[2]

    def is_a(self, group_kind: tuple[str, str]) -> bool:
        return self.group_kind == group_kind

    @property
    def metadata(self) -> Mapping[str, Any]:
        return as_mapping(self.props.get("metadata"))

    @property
    def spec(self) -> Mapping[str, Any]:
        return as_mapping(self.props.get("spec"))

    @property
    def namespace(self) -> str:
        return self.metadata.get("namespace") or "default"

    @property
    def k8s_name(self) -> str:
        return self.metadata.get("name") or self.name

    @property
    def labels(self) -> Mapping[str, str]:
        return as_mapping(self.metadata.get("labels"))

    @property
    def ref(self) -> str:
        """How messages name the resource: `Deployment app/front-blue`, or `<type> <name>` outside Kubernetes."""
        if self.group_kind:
            return f"{self.group_kind[1]} {self.namespace}/{self.k8s_name}"
        return f"{self.type.rsplit(':', 1)[-1]} {self.name}"


@dataclass(frozen=True)
class Violation:
    message: str
    urn: str = ""


@dataclass
class Stack:
    """All resources of a stack, with the lookups the stack-wide rules need.

    Indexed once by kind and by (kind, namespace, name): the rules look up per app, so a scan per lookup would
    make a plan's policy check grow with the square of the apps."""

    resources: Sequence[Resource]
    _by_urn: dict[str, Resource] = field(init=False)
    _by_kind: dict[tuple[str, str] | None, list[Resource]] = field(init=False)
    _by_name: dict[tuple[tuple[str, str] | None, str, str], Resource] = field(init=False)

    def __post_init__(self) -> None:
        self._by_urn = {r.urn: r for r in self.resources}
        self._by_kind, self._by_name = {}, {}
        for r in self.resources:
            self._by_kind.setdefault(r.group_kind, []).append(r)
            namespace, name = r.namespace, r.k8s_name
            if isinstance(namespace, str) and isinstance(name, str):  # what `find` is asked for (props may hold anything)
                self._by_name.setdefault((r.group_kind, namespace, name), r)  # the first, as a scan finds it

    def of(self, group_kind: tuple[str, str]) -> list[Resource]:
        return list(self._by_kind.get(group_kind, ()))

    def find(self, group_kind: tuple[str, str], namespace: str, name: str) -> Resource | None:
        return self._by_name.get((group_kind, namespace, name))

    def depends_on(self, resource: Resource, target: Resource) -> bool:
        """Whether `resource` waits for `target`, directly or through other dependencies."""
        seen, todo = set(), list(resource.dependencies)
        while todo:
            urn = todo.pop()
            if urn == target.urn:
                return True
            if urn not in seen and urn in self._by_urn:
                seen.add(urn)
                todo.extend(self._by_urn[urn].dependencies)
        return False


# --- Kubernetes kinds -------------------------------------------------------------------------

DEPLOYMENT = ("apps", "Deployment")
HORIZONTAL_POD_AUTOSCALER = ("autoscaling", "HorizontalPodAutoscaler")
SERVICE = ("core", "Service")
NAMESPACE = ("core", "Namespace")
CONFIG_MAP = ("core", "ConfigMap")
VIRTUAL_SERVICE = ("networking.istio.io", "VirtualService")
DESTINATION_RULE = ("networking.istio.io", "DestinationRule")
GATEWAY = ("networking.istio.io", "Gateway")
SERVICE_ENTRY = ("networking.istio.io", "ServiceEntry")
PEER_AUTHENTICATION = ("security.istio.io", "PeerAuthentication")
AUTHORIZATION_POLICY = ("security.istio.io", "AuthorizationPolicy")

# Where each workload kind keeps its pod spec.
_POD_SPEC_PATHS: dict[tuple[str, str], tuple[str, ...]] = {
    ("core", "Pod"): ("spec",),
    ("apps", "Deployment"): ("spec", "template", "spec"),
    ("apps", "StatefulSet"): ("spec", "template", "spec"),
    ("apps", "DaemonSet"): ("spec", "template", "spec"),
    ("apps", "ReplicaSet"): ("spec", "template", "spec"),
    ("batch", "Job"): ("spec", "template", "spec"),
    ("batch", "CronJob"): ("spec", "jobTemplate", "spec", "template", "spec"),
}
LONG_RUNNING = {("core", "Pod"), ("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "DaemonSet"), ("apps", "ReplicaSet")}


def as_mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def items(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


def dig(value: Any, *path: str) -> Any:
    for key in path:
        value = as_mapping(value).get(key)
    return value


def pod_spec(resource: Resource) -> Mapping[str, Any] | None:
    path = _POD_SPEC_PATHS.get(resource.group_kind or ("", ""))
    return as_mapping(dig(resource.props, *path)) if path else None


def pod_template_labels(resource: Resource) -> Mapping[str, str]:
    return as_mapping(dig(resource.props, "spec", "template", "metadata", "labels"))


def containers(spec: Mapping[str, Any], include_init: bool = True) -> Iterator[Mapping[str, Any]]:
    yield from (as_mapping(c) for c in items(spec.get("containers")))
    if include_init:
        yield from (as_mapping(c) for c in items(spec.get("initContainers")))


def replicas(deployment: Resource) -> float | None:
    """Desired replicas; Kubernetes defaults an unset field to 1. None when unknown during preview.

    A JSON number: an int, or a float when it comes through a protobuf Struct (the engine's inputs)."""
    value = deployment.spec.get("replicas", 1)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def autoscaler_of(stack: Stack, deployment: Resource) -> Resource | None:
    """The HorizontalPodAutoscaler in the stack that scales `deployment`, if any."""
    for hpa in stack.of(HORIZONTAL_POD_AUTOSCALER):
        target = as_mapping(hpa.spec.get("scaleTargetRef"))
        if hpa.namespace == deployment.namespace and (target.get("kind"), target.get("name")) == ("Deployment", deployment.k8s_name):
            return hpa
    return None


def replica_floor(stack: Stack, deployment: Resource) -> float | None:
    """The replicas a Deployment runs at least: its HPA's minReplicas (default 1) when one scales it, else its
    replicas. None when unknown during preview."""
    hpa = autoscaler_of(stack, deployment)
    if hpa is None:
        return replicas(deployment)
    value = hpa.spec.get("minReplicas", 1)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


# --- hosts ------------------------------------------------------------------------------------

CLUSTER_SUFFIX = ".svc.cluster.local"


def service_of_host(host: str, namespace: str) -> tuple[str, str] | None:
    """(namespace, name) of the Service an Istio host names: a short name (relative to the
    referring object's namespace) or `<name>.<namespace>.svc.cluster.local`; None for other hosts."""
    if host.endswith(CLUSTER_SUFFIX):
        parts = host.removesuffix(CLUSTER_SUFFIX).split(".")
        return (parts[1], parts[0]) if len(parts) == 2 else None
    return (namespace, host) if host and "." not in host else None
