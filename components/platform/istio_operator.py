"""Typed IstioOperator spec: `istio.operator` in stack config, written as for `istioctl install -f`.

The models cover the install API (install.istio.io/v1alpha1) that platform teams use: profile,
revision, hub/tag, meshConfig, and per component the Kubernetes settings (resources, hpaSpec,
affinity, nodeSelector, tolerations, overlays, service, podDisruptionBudget, ...). Unknown keys are
errors here instead of surprises at `istioctl install` time. Every field exists in Istio 1.30's
IstioOperator schema (tests/test_istio_operator.py walks the models against it). `values` is the
schema's own open passthrough to the Helm values and stays a plain mapping.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from ..shared.fields import Boolean, DnsLabel, Labels, Model, Number, Port, Quantity, WholeNumber, between, not_a_boolean

IntOrString = Annotated[int | str, BeforeValidator(not_a_boolean)]
Profile = Literal["default", "demo", "minimal", "remote", "empty", "preview", "ambient", "stable"]
Effect = Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]

# --- Kubernetes sub-types (the fields of core/v1, autoscaling/v2 and policy/v1 people set here) -----


class ResourceRequirements(Model):
    requests: dict[str, Quantity] | None = None
    limits: dict[str, Quantity] | None = None


class MetricTarget(Model):
    type: Literal["Utilization", "AverageValue", "Value"]
    average_utilization: Annotated[WholeNumber, between(1, 1000)] | None = None
    average_value: Quantity | None = None
    value: Quantity | None = None


class ResourceMetricSource(Model):
    name: str
    target: MetricTarget


class MetricSpec(Model):
    type: Literal["Resource"]
    resource: ResourceMetricSource


class HpaSpec(Model):
    min_replicas: Annotated[WholeNumber, between(1, 1000)] | None = None
    max_replicas: Annotated[WholeNumber, between(1, 1000)]
    metrics: list[MetricSpec] | None = None


class PodDisruptionBudgetSpec(Model):
    min_available: IntOrString | None = None
    max_unavailable: IntOrString | None = None


class LabelSelectorRequirement(Model):
    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] | None = None


class LabelSelector(Model):
    match_labels: Labels | None = None
    match_expressions: list[LabelSelectorRequirement] | None = None


class PodAffinityTerm(Model):
    label_selector: LabelSelector | None = None
    namespaces: list[str] | None = None
    topology_key: str


class WeightedPodAffinityTerm(Model):
    weight: Annotated[WholeNumber, between(1, 100)]
    pod_affinity_term: PodAffinityTerm


class PodAffinity(Model):
    required_during_scheduling_ignored_during_execution: list[PodAffinityTerm] | None = None
    preferred_during_scheduling_ignored_during_execution: list[WeightedPodAffinityTerm] | None = None


class NodeSelectorRequirement(Model):
    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]
    values: list[str] | None = None


class NodeSelectorTerm(Model):
    match_expressions: list[NodeSelectorRequirement] | None = None


class NodeSelector(Model):
    node_selector_terms: list[NodeSelectorTerm]


class PreferredSchedulingTerm(Model):
    weight: Annotated[WholeNumber, between(1, 100)]
    preference: NodeSelectorTerm


class NodeAffinity(Model):
    required_during_scheduling_ignored_during_execution: NodeSelector | None = None
    preferred_during_scheduling_ignored_during_execution: list[PreferredSchedulingTerm] | None = None


class Affinity(Model):
    node_affinity: NodeAffinity | None = None
    pod_affinity: PodAffinity | None = None
    pod_anti_affinity: PodAffinity | None = None


class Toleration(Model):
    key: str | None = None
    operator: Literal["Exists", "Equal"] | None = None
    value: str | None = None
    effect: Effect | None = None
    toleration_seconds: WholeNumber | None = None


class EnvVar(Model):
    name: str
    value: str | None = None


class ServicePort(Model):
    name: str | None = None
    port: Port
    target_port: IntOrString | None = None
    protocol: Literal["TCP", "UDP", "SCTP"] | None = None
    node_port: Port | None = None


class ServiceSpec(Model):
    type: Literal["ClusterIP", "NodePort", "LoadBalancer"] | None = None
    ports: list[ServicePort] | None = None
    load_balancer_ip: str | None = Field(default=None, alias="loadBalancerIP")
    load_balancer_source_ranges: list[str] | None = None
    external_traffic_policy: Literal["Cluster", "Local"] | None = None


class RollingUpdate(Model):
    max_surge: IntOrString | None = None
    max_unavailable: IntOrString | None = None


class DeploymentStrategy(Model):
    type: Literal["RollingUpdate", "Recreate"] | None = None
    rolling_update: RollingUpdate | None = None


# --- IstioOperator ---------------------------------------------------------------------------------


class Patch(Model):
    path: str
    value: Any = None


class Overlay(Model):
    """A strategic patch of one rendered object, for settings the API has no field for."""

    api_version: str | None = None
    kind: str
    name: str
    patches: list[Patch]


class KubernetesSettings(Model):
    resources: ResourceRequirements | None = None
    replica_count: Annotated[WholeNumber, between(0, 1000)] | None = None
    hpa_spec: HpaSpec | None = None
    pod_disruption_budget: PodDisruptionBudgetSpec | None = None
    affinity: Affinity | None = None
    node_selector: Labels | None = None
    tolerations: list[Toleration] | None = None
    env: list[EnvVar] | None = None
    pod_annotations: dict[str, str] | None = None
    service_annotations: dict[str, str] | None = None
    service: ServiceSpec | None = None
    strategy: DeploymentStrategy | None = None
    priority_class_name: str | None = None
    overlays: list[Overlay] | None = None


class BaseComponent(Model):
    """The `base` component (CRDs, cluster roles): no image or namespace of its own."""

    enabled: Boolean | None = None
    k8s: KubernetesSettings | None = Field(default=None, alias="k8s")  # to_camel would say k8S


class Component(BaseComponent):
    namespace: DnsLabel | None = None
    hub: str | None = None
    tag: str | None = None


class GatewayComponent(Component):
    name: DnsLabel
    label: Labels | None = None


def _cni_enabled(cni: Component) -> Component:
    if cni.enabled is not True:
        raise ValueError(
            "must set enabled: true: app namespaces enforce Pod Security 'restricted', so the sidecar's traffic "
            "redirection must come from the Istio CNI node agent (istio-init would need NET_ADMIN and NET_RAW)"
        )
    return cni


class Components(Model):
    base: BaseComponent | None = None
    pilot: Component | None = None
    cni: Annotated[Component, AfterValidator(_cni_enabled)]
    ingress_gateways: list[GatewayComponent] | None = None
    egress_gateways: list[GatewayComponent] | None = None


class ZipkinProvider(Model):
    service: str
    port: Port
    max_tag_length: WholeNumber | None = None


class OpenTelemetryProvider(Model):
    service: str
    port: Port


class ExtensionProvider(Model):
    name: DnsLabel
    zipkin: ZipkinProvider | None = None
    opentelemetry: OpenTelemetryProvider | None = None


class DefaultProviders(Model):
    tracing: list[str] | None = None
    metrics: list[str] | None = None
    access_logging: list[str] | None = None


class ProxyTracing(Model):
    sampling: Annotated[Number, Field(ge=0, le=100)] | None = None


class ProxyConfig(Model):
    hold_application_until_proxy_starts: Boolean | None = None
    termination_drain_duration: str | None = None
    tracing: ProxyTracing | None = None


class OutboundTrafficPolicy(Model):
    mode: Literal["ALLOW_ANY", "REGISTRY_ONLY"]


class MeshConfig(Model):
    access_log_file: str | None = None
    access_log_encoding: Literal["TEXT", "JSON"] | None = None
    enable_tracing: Boolean | None = None
    enable_prometheus_merge: Boolean | None = None
    default_config: ProxyConfig | None = None
    extension_providers: list[ExtensionProvider] | None = None
    default_providers: DefaultProviders | None = None
    outbound_traffic_policy: OutboundTrafficPolicy | None = None


class IstioOperatorSpec(Model):
    profile: Profile = "default"
    # A revision installs a second control plane beside the first: the canary upgrade path.
    revision: DnsLabel | None = None
    hub: str | None = None
    tag: str | None = None
    mesh_config: MeshConfig | None = None
    components: Components
    values: dict[str, Any] | None = None

    def dump(self) -> dict[str, Any]:
        """The spec as users write it: camelCase keys, unset fields left out."""
        return self.model_dump(by_alias=True, exclude_none=True)
