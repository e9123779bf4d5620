"""Istio from the IstioOperator spec: rendered document, istioctl install/uninstall scripts, addons, outputs."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from components.config import ConfigError, parse_stack_config
from components.platform.istio import (
    KUBECONFIG_ENV,
    install_script,
    operator_document,
    uninstall_script,
)
from components.platform.istio_addons import CHARTS
from components.platform.node_pool import placement
from tests.conftest import SHARED, find, load_tool

IO_SCHEMA = SHARED / "schemas" / "istio-1.30" / "istiooperator-install-v1alpha1.json"
INSTALL = "command:local:Command"


def rendered_operator(rec) -> dict:
    return yaml.safe_load(find(rec, INSTALL, "istioctl-install").inputs["stdin"])


def test_operator_document_carries_the_users_spec_and_platform_defaults(run_stack, config):
    config["istio"]["operator"] = {
        "profile": "default",
        "revision": "1-30-0",
        "meshConfig": {"accessLogFile": "/dev/stdout", "defaultConfig": {"holdApplicationUntilProxyStarts": True}},
        "components": {
            "cni": {"enabled": True},
            "ingressGateways": [
                {
                    "name": "istio-ingressgateway",
                    "enabled": True,
                    "k8s": {"nodeSelector": {"pool": "edge"}, "hpaSpec": {"minReplicas": 2, "maxReplicas": 5}},
                }
            ],
        },
        "values": {"global": {"platform": "gke"}},
    }
    doc = rendered_operator(run_stack(config))
    assert (doc["apiVersion"], doc["kind"]) == ("install.istio.io/v1alpha1", "IstioOperator")
    assert doc["metadata"] == {"name": "istio-1-30-0", "namespace": "istio-system"}
    spec = doc["spec"]
    # The user's values, plus the chart minimum that makes the gateway's PodDisruptionBudget render.
    assert spec["revision"] == "1-30-0"
    assert spec["values"] == {"global": {"platform": "gke"}, "gateways": {"istio-ingressgateway": {"autoscaleMin": 2}}}
    assert spec["components"]["cni"] == {"enabled": True}
    gateway = spec["components"]["ingressGateways"][0]["k8s"]
    assert gateway["nodeSelector"] == {"pool": "edge"}  # the spec's own placement wins
    assert gateway["hpaSpec"] == {"minReplicas": 2, "maxReplicas": 5}
    assert spec["components"]["pilot"]["k8s"]["nodeSelector"] == {"cloud.google.com/gke-nodepool": "apps"}
    mesh = spec["meshConfig"]
    assert mesh["accessLogFile"] == "/dev/stdout" and mesh["enableTracing"] is True
    assert mesh["defaultConfig"] == {"holdApplicationUntilProxyStarts": True, "tracing": {}}
    assert mesh["extensionProviders"] == [
        {"name": "jaeger", "zipkin": {"service": "jaeger-collector.istio-system.svc.cluster.local", "port": 9411}}
    ]


def test_default_spec_installs_an_ingress_gateway_on_the_pool(config):
    stack = parse_stack_config(config)
    spec = operator_document(stack.istio, placement(stack.node_pool))["spec"]
    assert spec["profile"] == "default"
    assert spec["components"]["ingressGateways"] == [
        {
            "name": "istio-ingressgateway",
            "enabled": True,
            "k8s": {
                "nodeSelector": {"cloud.google.com/gke-nodepool": "apps"},
                # The preview gate matches client addresses: the load balancer must not SNAT them.
                "service": {"externalTrafficPolicy": "Local"},
                # Gateway pods prefer other nodes, then other zones.
                "affinity": {
                    "podAntiAffinity": {
                        "preferredDuringSchedulingIgnoredDuringExecution": [
                            {
                                "weight": 100,
                                "podAffinityTerm": {
                                    "labelSelector": {"matchLabels": {"istio": "ingressgateway"}},
                                    "topologyKey": "kubernetes.io/hostname",
                                },
                            },
                            {
                                "weight": 50,
                                "podAffinityTerm": {
                                    "labelSelector": {"matchLabels": {"istio": "ingressgateway"}},
                                    "topologyKey": "topology.kubernetes.io/zone",
                                },
                            },
                        ]
                    }
                },
            },
        }
    ]
    assert spec["values"] == {"global": {"platform": "gke"}}


@pytest.mark.parametrize(
    ("gateway_min", "pilot_min", "values"),
    [
        (1, 1, {"global": {"platform": "gke"}}),
        (2, 1, {"global": {"platform": "gke"}, "gateways": {"istio-ingressgateway": {"autoscaleMin": 2}}}),
        (3, 2, {"global": {"platform": "gke"}, "gateways": {"istio-ingressgateway": {"autoscaleMin": 3}}, "pilot": {"autoscaleMin": 2}}),
    ],
)
def test_chart_min_replicas_follow_hpa_spec_so_the_budgets_render(config, gateway_min, pilot_min, values):
    config["istio"]["operator"] = {
        "components": {
            "cni": {"enabled": True},
            "pilot": {"k8s": {"hpaSpec": {"minReplicas": pilot_min, "maxReplicas": 5}}},
            "ingressGateways": [
                {"name": "istio-ingressgateway", "enabled": True, "k8s": {"hpaSpec": {"minReplicas": gateway_min, "maxReplicas": 5}}}
            ],
        }
    }
    stack = parse_stack_config(config)
    assert operator_document(stack.istio, placement(stack.node_pool))["spec"]["values"] == values


def test_a_spec_that_places_its_gateway_keeps_its_own_affinity(config):
    own = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"istio": "ingressgateway"}}, "topologyKey": "topology.kubernetes.io/zone"}
            ]
        }
    }
    config["istio"]["operator"] = {
        "components": {
            "cni": {"enabled": True},
            "ingressGateways": [{"name": "istio-ingressgateway", "enabled": True, "k8s": {"affinity": own}}],
        }
    }
    stack = parse_stack_config(config)
    gateway = operator_document(stack.istio, placement(stack.node_pool))["spec"]["components"]["ingressGateways"][0]
    assert gateway["k8s"]["affinity"] == own


def test_cluster_ip_gateways_get_no_external_traffic_policy(config):
    config["istio"]["operator"] = {
        "components": {
            "cni": {"enabled": True},
            "ingressGateways": [{"name": "internal", "enabled": True, "k8s": {"service": {"type": "ClusterIP"}}}],
        }
    }
    stack = parse_stack_config(config)
    gateway = operator_document(stack.istio, placement(stack.node_pool))["spec"]["components"]["ingressGateways"][0]
    assert gateway["k8s"]["service"] == {"type": "ClusterIP"}


def test_without_jaeger_tracing_is_left_alone(run_stack, config):
    config["istio"]["addons"] = {"jaeger": {"enabled": False}}
    rec = run_stack(config)
    assert "meshConfig" not in rendered_operator(rec)["spec"]
    assert rec.of_type("kubernetes:telemetry.istio.io/v1:Telemetry") == []


@pytest.mark.skipif(not IO_SCHEMA.exists(), reason="../shared is not present")
def test_rendered_operator_validates_against_the_closed_schema(run_stack, config):
    tool = load_tool(SHARED / "tools" / "validate_manifests.py")
    config["istio"]["addons"] = {"jaeger": {"samplingPercent": 5}}
    doc = rendered_operator(run_stack(config))
    assert tool.check(doc, "1.33") == ("ok", [])
    # The check is real: a key the schema does not declare fails it.
    doc["spec"]["components"]["pilot"]["k8s"]["replicas"] = 2
    assert tool.check(doc, "1.33")[0] == "error"


@pytest.mark.skipif(not IO_SCHEMA.exists(), reason="../shared is not present")
def test_every_model_field_exists_in_the_istio_schema():
    """Walk the typed models and the closed schema together: no field of ours is unknown to Istio 1.30."""
    from components.platform.istio_operator import IstioOperatorSpec

    schema = json.loads(IO_SCHEMA.read_text())
    defs = schema["$defs"]

    def resolve(node):
        while "$ref" in node:
            node = defs[node["$ref"].split("/")[-1]]
        return node

    def walk(model, node, path):
        node = resolve(node)
        props = node.get("properties")
        if props is None:  # an open object (meshConfig, values): nothing to check against
            return 0
        checked = 0
        for name, field in model.model_fields.items():
            key = field.alias or name
            assert key in props, f"{path}.{key} is not in the IstioOperator schema"
            checked += 1
            for sub in _models(field.annotation):
                target = resolve(props[key])
                target = resolve(target.get("items", target))
                checked += walk(sub, target, f"{path}.{key}")
        return checked

    assert walk(IstioOperatorSpec, schema["properties"]["spec"], "spec") > 80


def _models(annotation):
    from typing import get_args

    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models(arg)]


def test_install_reapplies_on_spec_or_version_change(run_stack, config):
    base = find(run_stack(config), INSTALL, "istioctl-install").inputs
    config["istio"]["version"] = "1.30.1"
    bumped = find(run_stack(config), INSTALL, "istioctl-install").inputs
    assert base["update"] == base["create"] and "1.30.0" in base["create"]
    assert bumped["update"] != base["update"] and "1.30.1" in bumped["update"]
    config["istio"]["operator"] = {"components": {"cni": {"enabled": True}}, "meshConfig": {"accessLogFile": "/dev/stdout"}}
    respec = find(run_stack(config), INSTALL, "istioctl-install").inputs
    assert respec["stdin"] != bumped["stdin"] and respec["update"] == bumped["update"]


def test_the_mesh_is_uninstalled_only_on_explicit_opt_in(run_stack, config):
    """Deleting the install resource (a destroy, or a URN change) must not run `istioctl uninstall --purge`
    unless istio.uninstallOnDestroy asks for it."""
    install = find(run_stack(config), INSTALL, "istioctl-install")
    assert "delete" not in install.inputs
    assert "deleteBeforeReplace" not in install.options and "triggers" not in install.inputs  # changes update, never replace
    config["istio"]["uninstallOnDestroy"] = True
    assert find(run_stack(config), INSTALL, "istioctl-install").inputs["delete"] == uninstall_script(None)
    config["istio"]["operator"] = {"revision": "1-30-0", "components": {"cni": {"enabled": True}}}
    assert find(run_stack(config), INSTALL, "istioctl-install").inputs["delete"] == uninstall_script("1-30-0")


def test_install_urn_is_pinned_and_renames_go_through_aliases(run_stack, config):
    import components.platform.istio as istio

    install = find(run_stack(config), INSTALL, "istioctl-install")
    assert install.urn.endswith("bluegreen:istio:IstioMesh$command:local:Command::istioctl-install")
    try:
        istio.INSTALL_ALIASES.append(__import__("pulumi").Alias(name="istio-install"))
        aliased = find(run_stack(config), INSTALL, "istioctl-install")
    finally:
        istio.INSTALL_ALIASES.clear()
    assert [a["spec"]["name"] for a in aliased.options["aliases"]] == ["istio-install"]


def test_uninstall_on_destroy_is_an_install_mode_key(config):
    config["istio"] = {"mode": "existing", "uninstallOnDestroy": True}
    with pytest.raises(ConfigError, match=r"istio.uninstallOnDestroy: applies only when istio.mode is install"):
        parse_stack_config(config)


def test_jaeger_values_keep_only_what_all_in_one_reads(run_stack, config):
    values = find(run_stack(config), ":Release", "jaeger").inputs["values"]
    assert values["allInOne"] == {"enabled": True}  # the chart itself sets COLLECTOR_ZIPKIN_HOST_PORT=:9411
    assert values["collector"] == {"enabled": False}  # collector.service.* is not read in all-in-one mode
    assert "COLLECTOR_ZIPKIN_HOST_PORT" not in json.dumps(values)


@pytest.fixture
def fake_istioctl(tmp_path):
    """An istioctl on PATH that reports FAKE_VERSION and records what install/uninstall received."""
    script = tmp_path / "bin" / "istioctl"
    script.parent.mkdir()
    script.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = version ]; then echo "client version: $FAKE_VERSION"; exit 0; fi\n'
        'echo "$@" > "$LOG/args"\n'
        'cp "$3" "$LOG/kubeconfig"\n'
        'if [ "$1" = install ]; then cp "$6" "$LOG/spec"; fi\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)

    def run(command: str, version: str, stdin: str = "") -> subprocess.CompletedProcess:
        env = {
            **os.environ,
            "PATH": f"{script.parent}:{os.environ['PATH']}",
            "FAKE_VERSION": version,
            "LOG": str(tmp_path),
            KUBECONFIG_ENV: "kubeconfig: text",
        }
        return subprocess.run(["/bin/sh", "-c", command], input=stdin, env=env, capture_output=True, text=True, timeout=20)

    return run, tmp_path


def test_install_pipes_the_document_to_istioctl_with_the_kubeconfig(fake_istioctl):
    run, log = fake_istioctl
    result = run(install_script("1.30.0"), "1.30.0", stdin="kind: IstioOperator\n")
    assert result.returncode == 0, result.stderr
    args = (log / "args").read_text().split()
    assert args[0] == "install" and args[-3:-1] == ["-y", "-f"]
    assert (log / "spec").read_text() == "kind: IstioOperator\n"
    assert (log / "kubeconfig").read_text() == "kubeconfig: text"
    assert not Path(args[2]).exists() and not Path(args[-1]).exists()  # temporary files are removed


def test_install_refuses_a_mismatched_istioctl(fake_istioctl):
    run, log = fake_istioctl
    result = run(install_script("1.30.0"), "1.29.2")
    assert result.returncode == 1
    assert "istioctl on PATH is 1.29.2 but istio.version is 1.30.0" in result.stderr
    assert not (log / "args").exists()


@pytest.mark.parametrize(("revision", "scope"), [(None, ["--purge"]), ("1-30-0", ["--revision", "1-30-0"])])
def test_uninstall_scope(fake_istioctl, revision, scope):
    run, log = fake_istioctl
    assert run(uninstall_script(revision), "any").returncode == 0
    args = (log / "args").read_text().split()
    assert args[0] == "uninstall" and args[-len(scope) :] == scope and "-y" in args


def test_addons_are_pinned_wired_and_internal(run_stack, config):
    rec = run_stack(config)
    releases = {r.name: r.inputs for r in rec.of_type("kubernetes:helm.sh/v3:Release")}
    assert set(releases) == {"prometheus", "grafana", "kiali", "jaeger"}
    for name, release in releases.items():
        assert release["namespace"] == "istio-system"
        assert release["version"] == CHARTS[name].version and release["repositoryOpts"] == {"repo": CHARTS[name].repo}
    services = releases["kiali"]["values"]["external_services"]
    assert services["prometheus"]["url"] == "http://prometheus.istio-system:9090"
    assert services["grafana"] == {"enabled": True, "internal_url": "http://grafana.istio-system:3000"}
    assert services["tracing"]["internal_url"] == "http://jaeger-query.istio-system:16686" and services["tracing"]["enabled"]
    sources = releases["grafana"]["values"]["datasources"]["datasources.yaml"]["datasources"]
    assert [s["url"] for s in sources] == ["http://prometheus.istio-system:9090", "http://jaeger-query.istio-system:16686"]
    assert releases["grafana"]["values"]["service"]["type"] == "ClusterIP"
    assert releases["prometheus"]["values"]["server"]["service"]["type"] == "ClusterIP"
    telemetry = find(rec, ":Telemetry", "mesh-default").inputs
    assert telemetry["spec"]["tracing"] == [{"providers": [{"name": "jaeger"}], "randomSamplingPercentage": 1}]
    # Never exposed: no Gateway host or route points at an addon.
    routed = json.dumps([r.inputs for r in rec.resources if r.type.startswith("kubernetes:networking.istio.io")])
    assert not any(CHARTS[name].service in routed for name in CHARTS)
    assert rec.outputs["addonServices"] == {name: CHARTS[name].address for name in releases}


def test_addons_toggle_off(run_stack, config):
    config["istio"]["addons"] = {"grafana": {"enabled": False}, "jaeger": {"enabled": False}}
    rec = run_stack(config)
    assert sorted(r.name for r in rec.of_type("kubernetes:helm.sh/v3:Release")) == ["kiali", "prometheus"]
    kiali = find(rec, ":Release", "kiali").inputs["values"]["external_services"]
    assert kiali["grafana"]["enabled"] is False and kiali["tracing"]["enabled"] is False
    assert rec.outputs["addonServices"] == {"prometheus": "prometheus.istio-system:9090", "kiali": "kiali.istio-system:20001"}


def test_ingress_address_comes_from_the_gateway_service(run_stack, config):
    assert run_stack(config).outputs["ingressGatewayAddress"] == "203.0.113.10"
