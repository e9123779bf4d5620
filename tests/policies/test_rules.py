"""Every rule passes on a compliant stack and fails, naming the resource, on each thing it guards."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from policies.guardrails.catalog import RULES, rule
from policies.guardrails.model import UNKNOWN, Resource
from tests.policy_records import deployment, edited, good_stack, k8s, virtual_service


def messages(name: str, resources: list[Resource], **config: Any) -> list[str]:
    chosen = rule(name)
    settings = {**chosen.defaults(), **config}
    if chosen.scope == "resource":
        return [m for r in resources for m in chosen.check(r, settings)]
    return [v.message for v in chosen.check(resources, settings)]


def without(resources: list[Resource], name: str, kind: str) -> list[Resource]:
    return [r for r in resources if not (r.name == name and r.type.endswith(":" + kind))]


def replaced(resources: list[Resource], new: Resource) -> list[Resource]:
    return [new if (r.type, r.name) == (new.type, new.name) else r for r in resources]


def set_path(*path_and_value: Any) -> Callable[[dict], None]:
    *path, key, value = path_and_value

    def edit(props: dict) -> None:
        target = props
        for step in path:
            target = target[step]
        if value is _DELETE:
            del target[key]
        else:
            target[key] = value

    return edit


_DELETE = object()
POD = ("spec", "template", "spec")
CONTAINER = (*POD, "containers", 0)


@pytest.mark.parametrize("name", [r.name for r in RULES])
@pytest.mark.parametrize("stack", ["stg", "prod"])
def test_compliant_stack_passes_every_rule(name, stack):
    assert messages(name, good_stack(stack)) == []


# --- routing-safety ---------------------------------------------------------------------------


def _default_weights(blue: int, green: int):
    host = "front.app.svc.cluster.local"
    return set_path(
        "spec",
        "http",
        1,
        "route",
        [
            {"destination": {"host": host, "subset": "blue"}, "weight": blue},
            {"destination": {"host": host, "subset": "green"}, "weight": green},
        ],
    )


def test_canary_split_summing_to_100_passes_routing_safety():
    assert messages("routing-safety", edited(good_stack(), "VirtualService", _default_weights(90, 10))) == []


@pytest.mark.parametrize(
    "break_it, expected",
    [
        (
            lambda s: edited(s, "VirtualService", _default_weights(90, 5)),
            "VirtualService app/front: http[1] (default): route weights sum to 95, not 100",
        ),
        (
            lambda s: edited(
                s, "VirtualService", set_path("spec", "http", 0, "route", 0, "destination", "host", "back.app.svc.cluster.local")
            ),
            "http[0] (preview-header) -> back.app.svc.cluster.local subset green: host does not resolve to a Service",
        ),
        (lambda s: without(s, "front", "Service"), "front.app.svc.cluster.local subset blue: host does not resolve to a Service"),
        (
            lambda s: edited(s, "DestinationRule", set_path("spec", "subsets", [{"name": "blue", "labels": {"version": "blue"}}])),
            "no DestinationRule for front.app.svc.cluster.local defines subset 'green'",
        ),
        (
            lambda s: without(s, "front-green", "Deployment"),
            "subset green: the subset selects no Deployment (a color without an image is not deployed)",
        ),
        (
            lambda s: edited(s, "Deployment", set_path("spec", "replicas", 0), name="front-green"),
            "Deployment app/front-green has replicas 0, needs at least 1",
        ),
        (
            lambda s: edited(s, "Deployment", set_path(*CONTAINER, "image", ""), name="front-green"),
            "Deployment app/front-green container 'front' has no image",
        ),
    ],
    ids=["weights", "unknown-host", "no-service", "no-subset", "no-deployment", "zero-replicas", "no-image"],
)
def test_routing_safety_fails(break_it, expected):
    found = messages("routing-safety", break_it(good_stack()))
    assert any(expected in m for m in found), found


def test_routing_safety_accepts_service_entry_hosts():
    stack = edited(good_stack(), "VirtualService", set_path("spec", "tcp", [{"route": [{"destination": {"host": "db.example.com"}}]}]))
    assert any("db.example.com: host does not resolve" in m for m in messages("routing-safety", stack))
    entry = k8s(
        "kubernetes:networking.istio.io/v1:ServiceEntry",
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "ServiceEntry",
            "metadata": {"name": "db", "namespace": "app"},
            "spec": {"hosts": ["db.example.com"]},
        },
    )
    assert messages("routing-safety", [*stack, entry]) == []


_MIRROR_TO_GREEN = set_path("spec", "http", 1, "mirror", {"host": "front.app.svc.cluster.local", "subset": "green"})


def test_a_mirror_to_a_serving_color_passes_routing_safety():
    assert messages("routing-safety", edited(good_stack(), "VirtualService", _MIRROR_TO_GREEN)) == []


@pytest.mark.parametrize(
    "break_it, expected",
    [
        (
            lambda s: edited(s, "Deployment", set_path("spec", "replicas", 0), name="front-green"),
            "http[1] (default) mirror -> front.app.svc.cluster.local subset green: Deployment app/front-green has replicas 0",
        ),
        (
            lambda s: without(s, "front-green", "Deployment"),
            "http[1] (default) mirror -> front.app.svc.cluster.local subset green: the subset selects no Deployment",
        ),
    ],
    ids=["zero-replicas", "no-deployment"],
)
def test_routing_safety_fails_a_mirror_to_a_color_that_cannot_serve(break_it, expected):
    # Only the mirror reaches green here: the preview route is pointed at blue so it does not report green too.
    to_blue = set_path("spec", "http", 0, "route", 0, "destination", "subset", "blue")
    stack = edited(edited(break_it(good_stack()), "VirtualService", _MIRROR_TO_GREEN), "VirtualService", to_blue)
    found = messages("routing-safety", stack)
    assert len(found) == 1 and expected in found[0], found


# --- preview-never-active ---------------------------------------------------------------------


def test_preview_follows_a_flip():
    assert messages("preview-never-active", good_stack(active="green")) == []


def test_preview_route_to_the_active_color_fails():
    stack = edited(good_stack(), "VirtualService", set_path("spec", "http", 0, "route", 0, "destination", "subset", "blue"))
    assert messages("preview-never-active", stack) == [
        "VirtualService app/front: preview route http[0] (preview-header) serves the active color blue"
    ]


def test_active_color_comes_from_the_state_config_map():
    # Routing still sends everything to blue, but the declared active color is green: preview to green is wrong.
    stack = edited(good_stack(), "ConfigMap", set_path("data", "activeColor", "green"))
    assert messages("preview-never-active", stack) == [
        "VirtualService app/front: preview route http[0] (preview-header) serves the active color green"
    ]


# --- canary-to-ready-color --------------------------------------------------------------------


def test_canary_to_a_ready_color_passes():
    assert messages("canary-to-ready-color", good_stack(idle_weight=10)) == []


@pytest.mark.parametrize(
    "break_it, expected",
    [
        (
            lambda s: edited(s, "Deployment", set_path(*CONTAINER, "readinessProbe", _DELETE), name="front-green"),
            "gives 10% to green, but Deployment app/front-green container 'front' has no readinessProbe",
        ),
        (
            lambda s: edited(s, "Deployment", set_path("metadata", "annotations", {"pulumi.com/skipAwait": "true"}), name="front-green"),
            "Deployment app/front-green is annotated pulumi.com/skipAwait",
        ),
        (
            lambda s: replaced(s, virtual_service("blue", 10, depends=(s[2].urn,))),
            "Deployment app/front-green is not a dependency of the VirtualService",
        ),
    ],
    ids=["no-readiness-probe", "skip-await", "no-dependency"],
)
def test_canary_to_an_unready_color_fails(break_it, expected):
    found = messages("canary-to-ready-color", break_it(good_stack(idle_weight=10)))
    assert any(expected in m for m in found), found


def test_canary_readiness_counts_transitive_dependencies():
    stack = good_stack(idle_weight=10)
    blue, green = stack[2], stack[3]
    via = Resource("kubernetes:core/v1:Service", "gate", "urn:pulumi:stg::p::gate", {}, dependencies=(green.urn,))
    stack = replaced(stack, virtual_service("blue", 10, depends=(blue.urn, via.urn)))
    assert messages("canary-to-ready-color", [*stack, via]) == []


# --- flip-target-provisioned ------------------------------------------------------------------


def test_flip_with_idle_scaled_down_afterwards_passes():
    stack = edited(good_stack(active="green"), "Deployment", set_path("spec", "replicas", 0), name="front-blue")
    assert messages("flip-target-provisioned", stack) == []


def test_flip_to_an_under_provisioned_color_fails():
    stack = edited(good_stack(active="green"), "Deployment", set_path("spec", "replicas", 1), name="front-green")
    assert messages("flip-target-provisioned", stack) == [
        "VirtualService app/front: the active color green has 1 replicas while blue still runs 3; it needs at least "
        "1 x 3 (scale green up first, scale blue down after the flip)"
    ]
    assert messages("flip-target-provisioned", stack, minActiveReplicaRatio=0.3) == []


def test_flip_to_a_color_without_deployment_fails():
    stack = without(good_stack(active="green"), "front-green", "Deployment")
    assert messages("flip-target-provisioned", stack) == [
        "VirtualService app/front: the active color green has no Deployment in this stack"
    ]


# --- pods -------------------------------------------------------------------------------------


def _image(image: str) -> list[Resource]:
    return edited(good_stack(), "Deployment", set_path(*CONTAINER, "image", image), name="front-blue")


@pytest.mark.parametrize(
    "image, config, expected",
    [
        ("asia-docker.pkg.dev/acme/web/front:latest", {}, "uses 'latest'"),
        ("asia-docker.pkg.dev/acme/web/front", {}, "has no tag"),
        ("localhost:5000/front", {}, "has no tag"),  # a registry port is not a tag
        ("asia-docker.pkg.dev/acme/web/front:stable", {"requireImmutableTag": True}, "needs a digest or an immutable version tag"),
    ],
)
def test_image_pinned_fails(image, config, expected):
    found = messages("image-pinned", _image(image), **config)
    assert len(found) == 1 and expected in found[0] and "Deployment app/front-blue container 'front'" in found[0], found


@pytest.mark.parametrize("image", ["asia-docker.pkg.dev/acme/web/front:1.4.2", "asia-docker.pkg.dev/acme/web/front@sha256:" + "a" * 64])
def test_image_pinned_passes_immutable_references(image):
    assert messages("image-pinned", _image(image), requireImmutableTag=True) == []


def test_pod_probes():
    job = k8s(
        "kubernetes:batch/v1:Job",
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "migrate", "namespace": "app"},
            "spec": {"template": {"spec": {"containers": [{"name": "migrate", "image": "x:1.0.0"}]}}},
        },
    )
    assert messages("pod-probes", [job]) == []  # run-to-completion pods need no probes
    stack = edited(good_stack(), "Deployment", set_path(*CONTAINER, "livenessProbe", _DELETE), name="front-blue")
    assert messages("pod-probes", stack) == ["Deployment app/front-blue container 'front' has no livenessProbe"]


def test_pod_resources():
    stack = edited(good_stack(), "Deployment", set_path(*CONTAINER, "resources", "limits", {"memory": "512Mi"}), name="front-blue")
    assert messages("pod-resources", stack) == ["Deployment app/front-blue container 'front' has no resources limits.cpu"]


@pytest.mark.parametrize(
    "edit, expected",
    [
        (set_path(*CONTAINER, "securityContext", "runAsNonRoot", False), "runAsNonRoot must be true"),
        (set_path(*CONTAINER, "securityContext", "runAsUser", 0), "runAsUser must not be 0"),
        (set_path(*CONTAINER, "securityContext", "allowPrivilegeEscalation", True), "allowPrivilegeEscalation must be false"),
        (set_path(*CONTAINER, "securityContext", "privileged", True), "must not be privileged"),
        (set_path(*CONTAINER, "securityContext", "capabilities", {"drop": ["NET_RAW"]}), "capabilities.drop must include ALL"),
        (
            set_path(*CONTAINER, "securityContext", "capabilities", {"drop": ["ALL"], "add": ["NET_ADMIN"]}),
            "capabilities.add may only hold",
        ),
        (
            set_path(*POD, "securityContext", {"runAsNonRoot": True, "seccompProfile": {"type": "Unconfined"}}),
            "seccompProfile.type must be RuntimeDefault",
        ),
    ],
    ids=["root", "uid-0", "escalation", "privileged", "no-drop-all", "add-cap", "seccomp"],
)
def test_pod_security_context_fails(edit, expected):
    found = messages("pod-security-context", edited(good_stack(), "Deployment", edit, name="front-blue"))
    assert len(found) == 1 and found[0].startswith(f"Deployment app/front-blue container 'front': {expected}"), found


def test_security_context_falls_back_from_container_to_pod():
    stack = edited(good_stack(), "Deployment", set_path(*POD, "securityContext", {}), name="front-blue")
    assert messages("pod-security-context", stack) == [
        "Deployment app/front-blue container 'front': seccompProfile.type must be RuntimeDefault"
    ]
    stack = edited(
        stack, "Deployment", set_path(*CONTAINER, "securityContext", "seccompProfile", {"type": "RuntimeDefault"}), name="front-blue"
    )
    assert messages("pod-security-context", stack) == []
    stack = edited(stack, "Deployment", set_path(*CONTAINER, "securityContext", "runAsNonRoot", _DELETE), name="front-blue")
    assert messages("pod-security-context", stack) == ["Deployment app/front-blue container 'front': runAsNonRoot must be true"]


@pytest.mark.parametrize(
    "edit, expected",
    [
        (
            set_path(*POD, "securityContext", "runAsUser", 1000),
            ["runAsUser 1000 is below 10000 (Checkov CKV_K8S_40): use a high id such as 10001"],
        ),
        (set_path(*POD, "securityContext", "runAsGroup", 9999.0), ["runAsGroup 9999 is below 10000"]),
        (set_path(*POD, "securityContext", "runAsUser", _DELETE), ["runAsUser is not set, so the image decides: set it to 10000 or more"]),
        # The container's own id wins over the pod's, as in Kubernetes.
        (set_path(*CONTAINER, "securityContext", "runAsUser", 500), ["runAsUser 500 is below 10000"]),
    ],
    ids=["low-uid", "low-gid", "unset-uid", "container-overrides-pod"],
)
def test_pod_high_uid_reports_low_or_unset_ids(edit, expected):
    found = messages("pod-high-uid", edited(good_stack(), "Deployment", edit, name="front-blue"))
    prefix = "Deployment app/front-blue container 'front': "
    assert len(found) == len(expected) and all(f.startswith(prefix + e) for f, e in zip(found, expected, strict=False)), found


def test_pod_high_uid_threshold_is_configurable_and_unknown_ids_pass():
    assert len(messages("pod-high-uid", good_stack(), minId=20000)) == 4  # uid and gid of both colors
    container_high = set_path(*CONTAINER, "securityContext", "runAsUser", 20000)
    assert messages("pod-high-uid", edited(good_stack(), "Deployment", container_high, name="front-blue"), minId=20000) == [
        "Deployment app/front-blue container 'front': runAsGroup 10001 is below 20000 (Checkov CKV_K8S_40): use a high id such as 10001",
        "Deployment app/front-green container 'front': runAsUser 10001 is below 20000 (Checkov CKV_K8S_40): use a high id such as 10001",
        "Deployment app/front-green container 'front': runAsGroup 10001 is below 20000 (Checkov CKV_K8S_40): use a high id such as 10001",
    ]
    unknown = set_path(*POD, "securityContext", "runAsUser", UNKNOWN)
    assert messages("pod-high-uid", edited(good_stack(), "Deployment", unknown, name="front-blue")) == []


def test_pod_read_only_root_filesystem():
    stack = edited(good_stack(), "Deployment", set_path(*CONTAINER, "securityContext", "readOnlyRootFilesystem", False), name="front-blue")
    assert [m.split(":")[0] for m in messages("pod-read-only-root-filesystem", stack)] == ["Deployment app/front-blue container 'front'"]
    assert messages("pod-read-only-root-filesystem", stack, exemptWorkloads=["app/front-blue"]) == []


@pytest.mark.parametrize(
    "edit, expected",
    [
        (set_path(*POD, "hostNetwork", True), "Deployment app/front-blue: hostNetwork must not be true"),
        (
            set_path(*POD, "volumes", [{"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}}]),
            "Deployment app/front-blue: volume 'docker' is a hostPath",
        ),
        (
            set_path(*CONTAINER, "ports", [{"containerPort": 8080, "hostPort": 8080}]),
            "Deployment app/front-blue container 'front': hostPort 8080 binds the node's network",
        ),
    ],
    ids=["hostNetwork", "hostPath", "hostPort"],
)
def test_pod_host_isolation_fails(edit, expected):
    assert messages("pod-host-isolation", edited(good_stack(), "Deployment", edit, name="front-blue")) == [expected]


# --- mesh -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "break_it, expected",
    [
        (
            lambda s: without(s, "default", "PeerAuthentication"),
            "namespace app runs meshed Deployments but has no namespace-wide PeerAuthentication with mtls.mode STRICT",
        ),
        (
            lambda s: edited(s, "PeerAuthentication", set_path("spec", "selector", {"matchLabels": {"app": "front"}})),
            "namespace app runs meshed Deployments but has no namespace-wide PeerAuthentication with mtls.mode STRICT",
        ),
        (
            lambda s: edited(s, "PeerAuthentication", set_path("spec", "portLevelMtls", {"8080": {"mode": "DISABLE"}})),
            "PeerAuthentication app/default relaxes mTLS to DISABLE in app namespace app",
        ),
        (
            lambda s: edited(s, "PeerAuthentication", set_path("spec", "mtls", "mode", "PERMISSIVE")),
            "PeerAuthentication app/default relaxes mTLS to PERMISSIVE in app namespace app",
        ),
    ],
    ids=["missing", "selector-only", "port-level-disable", "permissive"],
)
def test_mesh_strict_mtls_fails(break_it, expected):
    assert expected in messages("mesh-strict-mtls", break_it(good_stack()))


def test_mesh_strict_mtls_ignores_namespaces_outside_the_mesh():
    stack = without(good_stack(), "default", "PeerAuthentication")
    stack = edited(stack, "Namespace", set_path("metadata", "labels", {}))
    assert messages("mesh-strict-mtls", stack) == []
    # ... but a pod that asks for a sidecar puts its namespace in the mesh.
    stack = edited(
        stack, "Deployment", set_path("spec", "template", "metadata", "labels", "sidecar.istio.io/inject", "true"), name="front-blue"
    )
    assert messages("mesh-strict-mtls", stack) != []


@pytest.mark.parametrize(
    "servers, expected",
    [
        (
            [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["front.example.com"]}],
            [
                "Gateway app/bluegreen-gateway has no HTTPS server (stack prod requires TLS)",
                "Gateway app/bluegreen-gateway HTTP server 'http' must set tls.httpsRedirect: true",
            ],
        ),
        (
            [{"port": {"number": 443, "name": "https", "protocol": "HTTPS"}, "hosts": ["*"], "tls": {"mode": "SIMPLE"}}],
            [
                "Gateway app/bluegreen-gateway HTTPS server 'https' needs tls.mode SIMPLE or MUTUAL with tls.credentialName (a certificate Secret)"
            ],
        ),
    ],
    ids=["http-only", "no-credential"],
)
def test_gateway_tls_fails_in_prod(servers, expected):
    stack = edited(good_stack("prod"), "Gateway", set_path("spec", "servers", servers))
    assert messages("gateway-tls", stack) == expected


def test_gateway_tls_is_not_required_in_stg():
    http_only = [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["front.stg.example.com"]}]
    assert messages("gateway-tls", edited(good_stack("stg"), "Gateway", set_path("spec", "servers", http_only))) == []


def _addon_vs(gateways: list[str], host: str, namespace: str = "istio-system") -> Resource:
    return k8s(
        "kubernetes:networking.istio.io/v1:VirtualService",
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "VirtualService",
            "metadata": {"name": "dashboards", "namespace": namespace},
            "spec": {"hosts": ["grafana.example.com"], "gateways": gateways, "http": [{"route": [{"destination": {"host": host}}]}]},
        },
    )


@pytest.mark.parametrize(
    "host, namespace", [("grafana.istio-system.svc.cluster.local", "app"), ("kiali", "istio-system"), ("prometheus.istio-system", "app")]
)
def test_addons_not_public_fails(host, namespace):
    assert messages("addons-not-public", [_addon_vs(["app/bluegreen-gateway"], host, namespace)]) == [
        f"VirtualService {namespace}/dashboards exposes addon {host} through gateway app/bluegreen-gateway: "
        "reach addons with port-forward or an internal route"
    ]


def test_addons_may_be_routed_inside_the_mesh():
    assert messages("addons-not-public", [_addon_vs(["mesh"], "grafana.istio-system.svc.cluster.local")]) == []
    assert messages("addons-not-public", [_addon_vs(["app/bluegreen-gateway"], "grafana.monitoring.svc.cluster.local")]) == []


# --- node pool --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "edit, expected",
    [
        (set_path("management", "autoRepair", False), "NodePool apps: management.autoRepair must be true"),
        (set_path("management", {}), "NodePool apps: management.autoRepair must be true"),
        (
            set_path("nodeConfig", "shieldedInstanceConfig", {"enableIntegrityMonitoring": True}),
            "NodePool apps: nodeConfig.shieldedInstanceConfig.enableSecureBoot must be true",
        ),
        (
            set_path("nodeConfig", "workloadMetadataConfig", "mode", "GCE_METADATA"),
            "NodePool apps: nodeConfig.workloadMetadataConfig.mode must be GKE_METADATA (Workload Identity), got 'GCE_METADATA'",
        ),
        (set_path("nodeConfig", "serviceAccount", _DELETE), "NodePool apps: nodeConfig.serviceAccount must be a dedicated service account"),
        (
            set_path("nodeConfig", "serviceAccount", "123456-compute@developer.gserviceaccount.com"),
            "NodePool apps: nodeConfig.serviceAccount must be a dedicated service account",
        ),
    ],
    ids=["no-auto-repair", "no-management", "no-secure-boot", "gce-metadata", "no-account", "default-account"],
)
def test_node_pool_hardening_fails(edit, expected):
    found = messages("node-pool-hardening", edited(good_stack(), "NodePool", edit))
    assert any(m.startswith(expected) for m in found), found


def test_node_pool_account_unknown_during_preview_passes():
    stack = edited(good_stack(), "NodePool", set_path("nodeConfig", "serviceAccount", UNKNOWN))
    assert messages("node-pool-hardening", stack) == []


def test_deployment_helper_is_compliant():
    assert all(messages(r.name, [deployment("blue")]) == [] for r in RULES if r.scope == "resource")
