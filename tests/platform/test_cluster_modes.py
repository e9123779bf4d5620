"""cluster.mode kubeconfig and istio.mode existing: any conformant cluster with a mesh installed elsewhere."""

from __future__ import annotations

import pytest

from components.config import ConfigError, parse_stack_config
from tests.conftest import find

LOCAL = {"cluster": {"mode": "kubeconfig"}, "istio": {"mode": "existing"}}


def local(config: dict, **overrides) -> dict:
    return {**config, **LOCAL, **overrides}


def problems(raw: dict) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_stack_config(raw)
    return err.value.problems


def test_kubeconfig_mode_needs_no_gcp_keys(config):
    stack = parse_stack_config(local(config, nodePool={"name": "apps"}))
    assert not stack.cluster.gke and not stack.istio.installs and stack.places_pods
    assert not parse_stack_config(local({k: v for k, v in config.items() if k != "nodePool"})).places_pods


@pytest.mark.parametrize(
    ("cluster", "expected"),
    [
        (
            {"mode": "kubeconfig", "name": "c", "manage": True},
            ["cluster.name: applies only when cluster.mode is gke", "cluster.manage: applies only when cluster.mode is gke"],
        ),
        (
            {"mode": "kubeconfig", "masterIpv4CidrBlock": "172.16.0.0/28"},
            ["cluster.masterIpv4CidrBlock: applies only when cluster.mode is gke"],
        ),
        (
            {"mode": "gke", "name": "web", "location": "europe-west1", "project": "acme-web", "context": "kind"},
            ["cluster.context: applies only when cluster.mode is kubeconfig"],
        ),
        (
            {"mode": "gke", "location": "europe-west1"},
            ["cluster.name: is required when cluster.mode is gke", "cluster.project: is required when cluster.mode is gke"],
        ),
        ({"mode": "kind"}, ["cluster.mode: must be 'gke' or 'kubeconfig', got 'kind'"]),
    ],
)
def test_cluster_keys_must_fit_the_mode(config, cluster, expected):
    assert sorted(problems(local(config, cluster=cluster))) == sorted(expected)


def test_node_pool_only_places_pods_on_another_cluster(config):
    assert problems(local(config, nodePool={"name": "apps", "machineType": "e2-standard-8"})) == [
        "nodePool.machineType: applies only when cluster.mode is gke: with mode kubeconfig, nodePool only places pods (name, taints)"
    ]


def test_existing_mesh_takes_no_install_keys(config):
    assert problems(local(config, istio={"mode": "existing", "addons": {"kiali": {"enabled": False}}})) == [
        "istio.addons: applies only when istio.mode is install: this stack does not install the mesh"
    ]
    assert problems({**config, "istio": {"mode": "install"}}) == ["istio.version: is required when istio.mode is install"]


def test_local_stack_registers_no_gcp_resource_no_install_and_uses_the_kubeconfig_provider(run_stack, config):
    rec = run_stack(local(config, cluster={"mode": "kubeconfig", "context": "kind-kind"}))
    types = {r.type for r in rec.resources}
    assert not [t for t in types if t.startswith("gcp:") or t.startswith("command:") or "helm" in t]
    provider = find(rec, "providers:kubernetes", "kubeconfig")
    assert provider.inputs.get("context") == "kind-kind" and "kubeconfig" not in provider.inputs
    assert {"PeerAuthentication", "Gateway", "VirtualService", "Deployment"} <= {t.rsplit(":", 1)[1] for t in types}
    deployment = next(r for r in rec.resources if r.type.endswith("Deployment"))
    assert "nodeSelector" not in deployment.inputs["spec"]["template"]["spec"]  # no nodePool: no placement
    assert "ingressGatewayAddress" not in rec.outputs and "nodePool" not in rec.outputs


def test_first_preview_does_not_read_the_ingress_service(run_stack, config):
    """At preview istioctl may not have run yet: reading its Service would fail on a cluster without Istio."""
    from cli.engine.mock import run_program
    from tests.conftest import engine_config

    preview = run_program("test", engine_config(config), preview=True)
    assert not [r for r in preview.reads if r[0].endswith("core/v1:Service")]
    assert preview.outputs["ingressGatewayAddress"] == "known after pulumi up"
    update = run_stack(config)
    assert [r for r in update.reads if r[0].endswith("core/v1:Service")]
