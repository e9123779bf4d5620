"""Validation of every platform key: cluster, nodePool, istio (operator spec, addons), gateway.tls."""

from __future__ import annotations

import copy

import pytest

from components.config import ConfigError, parse_stack_config
from tests.conftest import BASE_CONFIG


def set_key(config: dict, path: str, value) -> dict:
    *parents, last = path.split(".")
    node = config
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    node[last] = value
    return config


def problems(config: dict, stack: str | None = None) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_stack_config(config, stack=stack)
    return err.value.problems


def test_platform_defaults():
    stack = parse_stack_config(copy.deepcopy(BASE_CONFIG))
    assert stack.cluster.manage is False and stack.cluster.release_channel == "REGULAR" and stack.cluster.cloud_nat is True
    assert stack.cluster.region == stack.cluster.location == "europe-west1"
    pool = stack.node_pool
    assert (pool.name, pool.machine_type, pool.disk_size_gb, pool.disk_type) == ("apps", "e2-standard-4", 100, "pd-balanced")
    assert (pool.autoscaling.min_node_count, pool.autoscaling.max_node_count) == (1, 3)
    assert pool.account_id == "apps-nodes" and pool.taints == []
    assert stack.istio.operator.profile == "default" and stack.istio.operator.components.cni.enabled is True
    assert all(getattr(stack.istio.addons, a).enabled for a in ("prometheus", "grafana", "kiali", "jaeger"))
    assert stack.istio.addons.jaeger.sampling_percent == 1.0
    assert stack.gateway.tls is None


def test_full_platform_config_parses(config):
    config["cluster"].update(
        manage=True,
        location="europe-west1-b",
        releaseChannel="STABLE",
        network="vpc",
        subnetwork="gke",
        masterAuthorizedNetworks=["10.0.0.0/8"],
        cloudNat=False,
    )
    config["nodePool"] = {
        "name": "web",
        "machineType": "n2-standard-8",
        "diskSizeGb": 200,
        "diskType": "pd-ssd",
        "autoscaling": {"minNodeCount": 2, "maxNodeCount": 2},
        "labels": {"team": "web"},
        "serviceAccountId": "gke-web-nodes",
    }
    config["gateway"]["tls"] = {"credentialName": "front-tls", "httpsRedirect": False}
    stack = parse_stack_config(config, stack="prod")
    assert stack.node_pool.account_id == "gke-web-nodes"
    assert stack.cluster.cloud_nat is False and stack.cluster.region == "europe-west1"
    tls = stack.gateway.tls
    assert tls is not None and tls.credential_name == "front-tls" and not tls.https_redirect


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("cluster.name", "Acme", "cluster.name: must be a GKE cluster name (lowercase, starts with a letter, at most 40), got 'Acme'"),
        (
            "cluster.location",
            "europe",
            "cluster.location: must be a GCP region or zone such as europe-west1 or europe-west1-b, got 'europe'",
        ),
        ("cluster.project", "ab", "cluster.project: must be a GCP project id such as acme-prod, got 'ab'"),
        ("cluster.manage", "maybe", "cluster.manage: must be true or false, got 'maybe'"),
        ("cluster.releaseChannel", "LTS", "cluster.releaseChannel: must be 'RAPID', 'REGULAR' or 'STABLE', got 'LTS'"),
        (
            "cluster.masterIpv4CidrBlock",
            "172.16.0.1/28",
            "cluster.masterIpv4CidrBlock: must be a CIDR block such as 10.0.0.0/8, got '172.16.0.1/28'",
        ),
        ("cluster.zone", "b", "cluster.zone: unknown key"),
        ("cluster.cloudNat", "maybe", "cluster.cloudNat: must be true or false, got 'maybe'"),
        ("nodePool.name", "Apps", "nodePool.name: must be a DNS-1123 label (lowercase letters, digits, '-', at most 63), got 'Apps'"),
        ("nodePool.machineType", "big", "nodePool.machineType: must be a Compute Engine machine type such as e2-standard-4, got 'big'"),
        ("nodePool.diskSizeGb", 5, "nodePool.diskSizeGb: must be between 10 and 65536, got 5"),
        ("nodePool.diskType", "ssd", "nodePool.diskType: must be 'pd-standard', 'pd-balanced' or 'pd-ssd', got 'ssd'"),
        (
            "nodePool.autoscaling",
            {"minNodeCount": 5, "maxNodeCount": 3},
            "nodePool.autoscaling.minNodeCount: must be at most maxNodeCount (3), got 5",
        ),
        ("nodePool.autoscaling.maxNodeCount", 0, "nodePool.autoscaling.maxNodeCount: must be between 1 and 1000, got 0"),
        (
            "nodePool.taints",
            [{"key": "k", "effect": "NoSchedule"}],
            "nodePool.taints.0.effect: must be 'NO_SCHEDULE', 'PREFER_NO_SCHEDULE' or 'NO_EXECUTE', got 'NoSchedule'",
        ),
        ("nodePool.labels", ["a"], "nodePool.labels: must be a mapping of keys to values, got ['a']"),
        (
            "nodePool.serviceAccountId",
            "SA",
            "nodePool.serviceAccountId: must be a service account id (6-30 lowercase letters, digits, '-'), got 'SA'",
        ),
        (
            "nodePool.name",
            "a-very-long-node-pool-name-x",
            "nodePool.serviceAccountId: is required because the default 'a-very-long-node-pool-name-x-nodes' (<name>-nodes) is not a valid service account id (6-30 characters)",
        ),
        ("istio.version", "1.30", "istio.version: must be an Istio release x.y.z such as 1.30.0, got '1.30'"),
        (
            "istio.operator",
            {"components": {"cni": {"enabled": False}}},
            "istio.operator.components.cni: must set enabled: true: app namespaces enforce Pod Security 'restricted', so the sidecar's traffic redirection must come from the Istio CNI node agent (istio-init would need NET_ADMIN and NET_RAW)",
        ),
        ("istio.operator", {"components": {}}, "istio.operator.components.cni: is required"),
        (
            "istio.operator",
            {"profile": "huge", "components": {"cni": {"enabled": True}}},
            "istio.operator.profile: must be 'default', 'demo', 'minimal', 'remote', 'empty', 'preview', 'ambient' or 'stable', got 'huge'",
        ),
        (
            "istio.operator",
            {"components": {"cni": {"enabled": True}, "pilot": {"k8s": {"replicas": 2}}}},
            "istio.operator.components.pilot.k8s.replicas: unknown key (did you mean replicaCount?)",
        ),
        (
            "istio.operator",
            {"components": {"cni": {"enabled": True}, "ingressGateways": [{"enabled": True}]}},
            "istio.operator.components.ingressGateways.0.name: is required",
        ),
        (
            "istio.operator",
            {"meshConfig": {"outboundTrafficPolicy": {"mode": "DENY"}}, "components": {"cni": {"enabled": True}}},
            "istio.operator.meshConfig.outboundTrafficPolicy.mode: must be 'ALLOW_ANY' or 'REGISTRY_ONLY', got 'DENY'",
        ),
        ("istio.operator", {"spec": {}, "components": {"cni": {"enabled": True}}}, "istio.operator.spec: unknown key"),
        (
            "istio.operator",
            {"tag": "1.29.0", "components": {"cni": {"enabled": True}}},
            "istio.operator.tag: must be istio.version (1.30.0) or a variant such as 1.30.0-distroless, got '1.29.0'",
        ),
        (
            "istio.addons",
            {"prometheus": {"enabled": False}},
            "istio.addons.kiali.enabled: requires prometheus.enabled: Kiali draws the mesh from Prometheus metrics",
        ),
        (
            "istio.addons.jaeger",
            {"samplingPercent": 150},
            "istio.addons.jaeger.samplingPercent: must be less than or equal to 100, got 150",
        ),
        ("istio.addons.zipkin", {"enabled": True}, "istio.addons.zipkin: unknown key"),
        (
            "gateway.tls",
            {"credentialName": "Front_TLS"},
            "gateway.tls.credentialName: must be a Kubernetes Secret name such as front-tls, got 'Front_TLS'",
        ),
        ("gateway.tls", {"httpsRedirect": True}, "gateway.tls.credentialName: is required"),
    ],
)
def test_invalid_platform_keys_name_the_key(config, key, value, message):
    assert problems(set_key(config, key, value)) == [message]


def test_platform_sections_are_required(config):
    del config["cluster"], config["istio"]
    assert problems(config) == ["cluster: is required", "istio: is required"]


def test_prod_requires_tls(config):
    assert problems(config, stack="prod") == ["gateway.tls: is required for stack prod: production serves HTTPS only"]
    assert parse_stack_config(config, stack="stg").gateway.tls is None
    config["gateway"]["tls"] = {"credentialName": "front-tls"}
    tls = parse_stack_config(config, stack="prod").gateway.tls
    assert tls is not None and tls.https_redirect is True


def test_managed_cluster_pool_must_be_untainted(config):
    """With manage: true the default pool is removed: a tainted only pool would strand kube-system and the addons."""
    config["nodePool"] = {"taints": [{"key": "dedicated", "value": "apps"}]}
    assert parse_stack_config(config).node_pool.taints[0].key == "dedicated"  # fine beside the cluster's other pools
    config["cluster"]["manage"] = True
    assert problems(config) == [
        "nodePool.taints: must be empty when cluster.manage is true: the cluster's default pool is removed, so this pool "
        "is the only one and kube-system pods and the addons would have nowhere to schedule"
    ]
