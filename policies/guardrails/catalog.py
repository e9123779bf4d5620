"""The pack's rules: name, level, scope, check function and configuration schema (JSON Schema)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from . import autoscaling, cohorts, mesh, nodepool, pods, release, routing

PACK_NAME = "bluegreen-guardrails"
PACK_VERSION = "0.1.0"  # keep equal to `version` in PulumiPolicy.yaml
ADVISORY, MANDATORY, DISABLED = "advisory", "mandatory", "disabled"
LEVELS = (ADVISORY, MANDATORY, DISABLED)


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    level: str
    # "resource": check(resource, config) -> [message], run before each resource is created or updated.
    # "stack": check(resources, config) -> [Violation], run once over the whole stack.
    scope: Literal["resource", "stack"]
    check: Callable[..., list[Any]]
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def defaults(self) -> dict[str, Any]:
        return {key: schema["default"] for key, schema in self.config.items()}


RULES: tuple[Rule, ...] = (
    Rule(
        "routing-safety",
        "Every VirtualService destination (mirror targets too) resolves to a Service and, for a subset, to a "
        "DestinationRule subset selecting a Deployment with an image and replicas >= 1; route weights sum to 100.",
        MANDATORY,
        "stack",
        routing.routing_safety,
    ),
    Rule(
        "preview-never-active",
        "The preview route never serves the active color.",
        MANDATORY,
        "stack",
        routing.preview_never_active,
        {
            "previewRoutePrefix": {
                "type": "string",
                "default": "preview",
                "description": "http routes whose name starts with this are preview routes",
            }
        },
    ),
    Rule(
        "canary-to-ready-color",
        "Weight (canary or full) only goes to a color that is ready to serve: replicas >= 1, readiness probes, "
        "and a Deployment the VirtualService depends on so Pulumi waits for it to be Available.",
        MANDATORY,
        "stack",
        routing.canary_to_ready_color,
    ),
    Rule(
        "flip-target-provisioned",
        "The active color's Deployment exists in the stack and has at least minActiveReplicaRatio x the replicas "
        "of any other color still running (a flip to an under-provisioned color is refused).",
        MANDATORY,
        "stack",
        routing.flip_target_provisioned,
        {
            "minActiveReplicaRatio": {
                "type": "number",
                "minimum": 0,
                "default": 1.0,
                "description": "active replicas / replicas of a color still running",
            }
        },
    ),
    Rule(
        "hpa-replica-bounds",
        "An autoscaled color's HorizontalPodAutoscaler has minReplicas >= 1 and minReplicas <= maxReplicas.",
        MANDATORY,
        "resource",
        autoscaling.hpa_replica_bounds,
    ),
    Rule(
        "hpa-floor-carries-share",
        "An autoscaled color given w% of a route has an HPA floor of at least w% (rounded up) of what any other "
        "running color runs at least: its HPA cannot scale for traffic it does not get yet.",
        MANDATORY,
        "stack",
        autoscaling.hpa_floor_carries_share,
    ),
    Rule(
        "cohorts-are-a-subset",
        "An A/B cohort route matches something, and not any value of a header every request carries (that is a flip, not a cohort).",
        MANDATORY,
        "resource",
        cohorts.cohorts_are_a_subset,
        {
            "routePrefix": {"type": "string", "default": "cohort", "description": "http routes whose name starts with this are cohorts"},
            "universalHeaders": {
                "type": "array",
                "items": {"type": "string"},
                "default": ["user-agent", "accept", "accept-encoding", "host", "x-request-id", "x-forwarded-for", "x-forwarded-proto"],
                "description": "headers every request carries (Envoy adds x-request-id and x-forwarded-*)",
            },
        },
    ),
    Rule(
        "image-pinned",
        "Container images are pinned: no 'latest', no tagless image; optionally only digests or immutable version tags.",
        ADVISORY,
        "resource",
        pods.image_pinned,
        {
            "requireImmutableTag": {
                "type": "boolean",
                "default": False,
                "description": "require a digest or a tag matching immutableTagPattern",
            },
            "immutableTagPattern": {
                "type": "string",
                "default": r"^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$",
                "description": "regular expression for version tags that are never re-pushed",
            },
        },
    ),
    Rule(
        "pod-probes",
        "Long-running containers have readiness and liveness probes.",
        MANDATORY,
        "resource",
        pods.pod_probes,
    ),
    Rule(
        "pod-resources",
        "Every container sets cpu and memory requests and limits.",
        MANDATORY,
        "resource",
        pods.pod_resources,
    ),
    Rule(
        "pod-security-context",
        "Containers run as non-root without privilege escalation, drop ALL capabilities and use the RuntimeDefault seccomp profile.",
        MANDATORY,
        "resource",
        pods.pod_security_context,
    ),
    Rule(
        "pod-high-uid",
        "Containers run as a user and group id of at least minId (Checkov CKV_K8S_40), so none is a host account.",
        ADVISORY,
        "resource",
        pods.pod_high_uid,
        {"minId": {"type": "integer", "minimum": 1, "default": 10000, "description": "lowest runAsUser / runAsGroup accepted"}},
    ),
    Rule(
        "pod-read-only-root-filesystem",
        "Containers mount their root filesystem read-only where the app allows.",
        ADVISORY,
        "resource",
        pods.pod_read_only_root_filesystem,
        {
            "exemptWorkloads": {
                "type": "array",
                "items": {"type": "string"},
                "default": [],
                "description": "namespace/name of workloads whose app must write to its root filesystem",
            }
        },
    ),
    Rule(
        "pod-host-isolation",
        "Pods use no hostPath volumes, hostPorts, hostNetwork, hostPID or hostIPC.",
        MANDATORY,
        "resource",
        pods.pod_host_isolation,
    ),
    Rule(
        "mesh-strict-mtls",
        "Every namespace running meshed Deployments has a namespace-wide STRICT PeerAuthentication and none relaxing it.",
        MANDATORY,
        "stack",
        mesh.mesh_strict_mtls,
    ),
    Rule(
        "gateway-tls",
        "In TLS stacks (prod) every Gateway serves HTTPS with tls.credentialName and HTTP servers redirect to HTTPS.",
        MANDATORY,
        "resource",
        mesh.gateway_tls,
        {
            "stacks": {
                "type": "array",
                "items": {"type": "string"},
                "default": ["prod"],
                "description": "stacks whose Gateways must terminate TLS",
            }
        },
    ),
    Rule(
        "addons-not-public",
        "No VirtualService bound to a non-mesh gateway routes to a mesh addon (Prometheus, Grafana, Kiali, tracing).",
        MANDATORY,
        "resource",
        mesh.addons_not_public,
        {
            "addonServices": {
                "type": "array",
                "items": {"type": "string"},
                "default": ["prometheus", "grafana", "kiali", "tracing", "jaeger", "jaeger-query", "jaeger-collector", "zipkin"],
            },
            "addonNamespaces": {"type": "array", "items": {"type": "string"}, "default": ["istio-system"]},
        },
    ),
    Rule(
        "preview-ranges-narrow",
        "No AuthorizationPolicy (the preview gate) admits a client range wider than minPrefixLength: 0.0.0.0/0 and "
        "::/0 open the idle color to the internet; a range may be allowed explicitly.",
        MANDATORY,
        "resource",
        mesh.preview_ranges_narrow,
        {
            "minPrefixLengthIpv4": {
                "type": "integer",
                "minimum": 0,
                "maximum": 32,
                "default": 8,
                "description": "shortest IPv4 prefix admitted (/8: at most one private network block)",
            },
            "minPrefixLengthIpv6": {
                "type": "integer",
                "minimum": 0,
                "maximum": 128,
                "default": 32,
                "description": "shortest IPv6 prefix admitted",
            },
            "allowedRanges": {
                "type": "array",
                "items": {"type": "string"},
                "default": [],
                "description": "wider ranges admitted on purpose, e.g. 0.0.0.0/0 for a public preview",
            },
        },
    ),
    Rule(
        "analysis-no-data-fails",
        "A custom promotion.analysis check does not pass a color whose query has no data (onNoData pass).",
        ADVISORY,
        "resource",
        release.analysis_no_data_fails,
    ),
    Rule(
        "post-flip-bake-covers-window",
        "promotion.postFlip.bake lasts at least one promotion.analysis.window, so the watch judges post-flip traffic.",
        MANDATORY,
        "resource",
        release.post_flip_bake_covers_window,
    ),
    Rule(
        release.FLIP_AFTER_PREVIEW,
        release.FLIP_AFTER_PREVIEW_DESCRIPTION,
        ADVISORY,  # mandatory on prod: policies/config/prod.json
        "resource",
        release.flip_after_preview,
    ),
    Rule(
        "node-pool-hardening",
        "GKE node pools auto-repair, auto-upgrade, use shielded nodes, GKE_METADATA and a dedicated service account.",
        MANDATORY,
        "resource",
        nodepool.node_pool_hardening,
    ),
)


def rule(name: str) -> Rule:
    return next(r for r in RULES if r.name == name)
