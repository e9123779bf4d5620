"""Stack-wide routing rules: every destination (mirrors too) is real, weights add up, traffic only reaches ready colors."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .model import (
    CONFIG_MAP,
    DEPLOYMENT,
    DESTINATION_RULE,
    SERVICE,
    SERVICE_ENTRY,
    VIRTUAL_SERVICE,
    Resource,
    Stack,
    Violation,
    as_mapping,
    containers,
    dig,
    items,
    pod_spec,
    pod_template_labels,
    replicas,
    service_of_host,
)

ROUTE_KINDS = ("http", "tcp", "tls")
# Mirrors components/shared/naming.py: the app's state ConfigMap `<app>-bluegreen` holds `activeColor`.
STATE_CONFIG_MAP_SUFFIX = "-bluegreen"
# Pulumi's Kubernetes provider skips its readiness await for objects annotated like this.
SKIP_AWAIT = "pulumi.com/skipAwait"


@dataclass(frozen=True)
class Destination:
    route_kind: str
    index: int
    route: Mapping[str, Any]
    host: str
    subset: str | None
    weight: int
    mirror: bool = False  # the route's mirror target: copies of its requests, no weight of its own

    @property
    def where(self) -> str:
        name = self.route.get("name")
        return f"{self.route_kind}[{self.index}]" + (f" ({name})" if name else "") + (" mirror" if self.mirror else "")

    @property
    def target(self) -> str:
        return self.host + (f" subset {self.subset}" if self.subset else "")


def destinations(vs: Resource) -> Iterator[Destination]:
    """Every routed destination of a VirtualService, with its effective weight."""
    for kind in ROUTE_KINDS:
        for index, route in enumerate(items(vs.spec.get(kind))):
            dests = items(as_mapping(route).get("route"))
            for dest in dests:
                dest = as_mapping(dest)
                target = as_mapping(dest.get("destination"))
                # A lone destination without a weight takes all traffic.
                weight = dest.get("weight", 100 if len(dests) == 1 else 0)
                yield Destination(kind, index, as_mapping(route), str(target.get("host", "")), target.get("subset"), weight)


def mirror_destinations(vs: Resource) -> Iterator[Destination]:
    """Every http route's mirror target (Istio `mirror`): it must resolve like any destination."""
    for index, route in enumerate(items(vs.spec.get("http"))):
        route = as_mapping(route)
        target = as_mapping(route.get("mirror"))
        if target:
            yield Destination("http", index, route, str(target.get("host", "")), target.get("subset"), 0, mirror=True)


def _weight_problems(vs: Resource) -> list[str]:
    by_route: dict[tuple[str, int], list[Destination]] = {}
    for dest in destinations(vs):
        by_route.setdefault((dest.route_kind, dest.index), []).append(dest)
    problems = []
    for dests in by_route.values():
        total = sum(d.weight for d in dests if isinstance(d.weight, (int, float)))
        if total != 100:
            problems.append(f"{dests[0].where}: route weights sum to {total}, not 100")
    return problems


class Routes:
    """Resolves VirtualService destinations to Services, DestinationRule subsets and Deployments."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.external_hosts = {h for se in stack.of(SERVICE_ENTRY) for h in items(se.spec.get("hosts"))}
        # Looked up per destination, so grouped once (in stack order): a lookup reads only its own Service's share,
        # not every object of the stack (apps often share a namespace).
        self._rules_by_service: dict[tuple[str, str], list[Resource]] = {}
        for dr in stack.of(DESTINATION_RULE):
            key = service_of_host(str(dr.spec.get("host", "")), dr.namespace)
            if key and all(isinstance(part, str) for part in key):  # what a Service's (namespace, name) can equal
                self._rules_by_service.setdefault(key, []).append(dr)
        self._deployments_by_namespace: dict[str, list[Resource]] = {}
        self._deployments_by_label: dict[tuple[str, str, str], list[Resource]] = {}
        for d in stack.of(DEPLOYMENT):
            if not isinstance(d.namespace, str):  # a Service's namespace is a string (Stack.find)
                continue
            self._deployments_by_namespace.setdefault(d.namespace, []).append(d)
            for label, value in pod_template_labels(d).items():
                if isinstance(label, str) and isinstance(value, str):
                    self._deployments_by_label.setdefault((d.namespace, label, value), []).append(d)

    def service(self, host: str, namespace: str) -> Resource | None:
        key = service_of_host(host, namespace)
        return self.stack.find(SERVICE, *key) if key else None

    def subsets(self, service: Resource) -> dict[str, Mapping[str, str]]:
        """Subset name -> labels, from the DestinationRules whose host is this Service."""
        found: dict[str, Mapping[str, str]] = {}
        for dr in self._rules_by_service.get((service.namespace, service.k8s_name), []):
            for entry in map(as_mapping, items(dr.spec.get("subsets"))):
                found.setdefault(str(entry.get("name")), as_mapping(entry.get("labels")))
        return found

    def deployments(self, service: Resource, subset_labels: Mapping[str, str]) -> list[Resource]:
        """Deployments whose pods are endpoints of the Service and carry the subset's labels."""
        wanted = {**as_mapping(service.spec.get("selector")), **subset_labels}
        if not wanted:
            return []
        # A match carries every wanted label, so the Deployments with the rarest one are all there is to check.
        by_label = [
            self._deployments_by_label.get((service.namespace, label, value), [])
            for label, value in wanted.items()
            if isinstance(label, str) and isinstance(value, str)
        ]
        candidates = min(by_label, key=len) if by_label else self._deployments_by_namespace.get(service.namespace, [])
        return [d for d in candidates if wanted.items() <= pod_template_labels(d).items()]

    def color_deployments(self, vs: Resource, dest: Destination) -> list[Resource] | None:
        """The Deployments behind a subset destination; None when the chain does not resolve."""
        service = self.service(dest.host, vs.namespace)
        if not (service and dest.subset):
            return None
        labels = self.subsets(service).get(dest.subset)
        return None if labels is None else self.deployments(service, labels)

    def active_color(self, vs: Resource) -> str | None:
        """The declared active color (state ConfigMap), else the heaviest subset of the match-less http route."""
        app = vs.labels.get("app", vs.k8s_name)
        state = self.stack.find(CONFIG_MAP, vs.namespace, app + STATE_CONFIG_MAP_SUFFIX)
        if state and dig(state.props, "data", "activeColor"):
            return dig(state.props, "data", "activeColor")
        default = [d for d in destinations(vs) if d.route_kind == "http" and not d.route.get("match") and d.subset]
        return max(default, key=lambda d: d.weight if isinstance(d.weight, (int, float)) else -1).subset if default else None


def _image_problems(deployment: Resource) -> list[str]:
    listed = list(containers(pod_spec(deployment) or {}))
    if not listed:
        return ["has no containers"]
    return [f"container {c.get('name')!r} has no image" for c in listed if not c.get("image")]


def routing_safety(resources: list[Resource], config: Mapping[str, Any]) -> list[Violation]:
    stack = Stack(resources)
    routes = Routes(stack)
    found = []
    for vs in stack.of(VIRTUAL_SERVICE):
        problems = _weight_problems(vs)
        for dest in (*destinations(vs), *mirror_destinations(vs)):
            problems += _destination_problems(routes, vs, dest)
        found += [Violation(f"{vs.ref}: {p}", vs.urn) for p in problems]
    return found


def _destination_problems(routes: Routes, vs: Resource, dest: Destination) -> list[str]:
    prefix = f"{dest.where} -> {dest.target}"
    service = routes.service(dest.host, vs.namespace)
    if service is None:
        if service_of_host(dest.host, vs.namespace) is None and dest.host in routes.external_hosts:
            return []
        return [f"{prefix}: host does not resolve to a Service in this stack"]
    if not dest.subset:
        return []
    labels = routes.subsets(service).get(dest.subset)
    if labels is None:
        return [f"{prefix}: no DestinationRule for {dest.host} defines subset {dest.subset!r}"]
    deployments = routes.deployments(service, labels)
    if not deployments:
        return [f"{prefix}: the subset selects no Deployment (a color without an image is not deployed)"]
    problems = []
    for d in deployments:
        count = replicas(d)
        if count is not None and count < 1:
            problems.append(f"{prefix}: {d.ref} has replicas {count}, needs at least 1")
        problems += [f"{prefix}: {d.ref} {p}" for p in _image_problems(d)]
    return problems


def preview_never_active(resources: list[Resource], config: Mapping[str, Any]) -> list[Violation]:
    stack = Stack(resources)
    routes = Routes(stack)
    prefix = config["previewRoutePrefix"]
    found = []
    for vs in stack.of(VIRTUAL_SERVICE):
        active = routes.active_color(vs)
        for dest in destinations(vs):
            if str(dest.route.get("name", "")).startswith(prefix) and dest.subset == active:
                found.append(Violation(f"{vs.ref}: preview route {dest.where} serves the active color {active}", vs.urn))
    return found


def _not_ready(stack: Stack, vs: Resource, deployment: Resource) -> list[str]:
    spec = pod_spec(deployment) or {}
    problems = [
        f"container {c.get('name')!r} has no readinessProbe" for c in containers(spec, include_init=False) if not c.get("readinessProbe")
    ]
    if str(as_mapping(deployment.metadata.get("annotations")).get(SKIP_AWAIT, "")).lower() == "true":
        problems.append(f"is annotated {SKIP_AWAIT}, so Pulumi does not wait for it to be Available")
    if not stack.depends_on(vs, deployment):
        problems.append("is not a dependency of the VirtualService, so traffic may move before it is Available")
    count = replicas(deployment)
    if count is not None and count < 1:
        problems.append(f"has replicas {count}")
    return problems


def canary_to_ready_color(resources: list[Resource], config: Mapping[str, Any]) -> list[Violation]:
    """Weighted traffic only reaches a color Pulumi has seen ready. A missing color is routing-safety's to report."""
    stack = Stack(resources)
    routes = Routes(stack)
    found = []
    for vs in stack.of(VIRTUAL_SERVICE):
        for dest in destinations(vs):
            if not dest.subset or not isinstance(dest.weight, (int, float)) or dest.weight <= 0:
                continue
            for deployment in routes.color_deployments(vs, dest) or []:
                found += [
                    Violation(f"{vs.ref}: {dest.where} gives {dest.weight}% to {dest.subset}, but {deployment.ref} {p}", vs.urn)
                    for p in _not_ready(stack, vs, deployment)
                ]
    return found


def flip_target_provisioned(resources: list[Resource], config: Mapping[str, Any]) -> list[Violation]:
    """Only the new state is visible, so a flip is judged by where it lands: the active color must exist
    and carry at least `minActiveReplicaRatio` x the replicas of any other color that still runs. Autoscaled colors
    (no replicas in their Deployment, read as 1) are judged by hpa-floor-carries-share and the switch gate."""
    stack = Stack(resources)
    routes = Routes(stack)
    ratio = float(config["minActiveReplicaRatio"])
    found = []
    for vs in stack.of(VIRTUAL_SERVICE):
        active = routes.active_color(vs)
        if active is None:
            continue
        services = {s.urn: s for d in destinations(vs) if d.subset and (s := routes.service(d.host, vs.namespace))}
        for service in services.values():
            colors = {
                name: sum(replicas(d) or 0 for d in routes.deployments(service, labels)) for name, labels in routes.subsets(service).items()
            }
            if active not in colors or not routes.deployments(service, routes.subsets(service)[active]):
                found.append(Violation(f"{vs.ref}: the active color {active} has no Deployment in this stack", vs.urn))
                continue
            for color, count in colors.items():
                if color != active and count > 0 and colors[active] < ratio * count:
                    found.append(
                        Violation(
                            f"{vs.ref}: the active color {active} has {colors[active]} replicas while {color} still runs "
                            f"{count}; it needs at least {ratio:g} x {count} (scale {active} up first, scale {color} "
                            f"down after the flip)",
                            vs.urn,
                        )
                    )
    return found
