"""Mesh security: STRICT mTLS and NetworkPolicy per app namespace, HTTPS Gateway, TLS on prod."""

from __future__ import annotations

import pytest

from cli.engine.plan import run_plan
from components.config import parse_stack_config
from components.platform import mesh_security
from components.platform.gateway import gateway_manifest
from components.platform.mesh_security import network_policy
from tests.conftest import find

GATEWAY_PODS = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "istio-system"}},
    "podSelector": {"matchLabels": {"istio": "ingressgateway"}},
}
ISTIOD = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "istio-system"}},
    "podSelector": {"matchLabels": {"app": "istiod"}},
}


def test_every_app_namespace_is_strict_mtls_and_fenced(run_stack, config):
    config["apps"]["api"] = {"namespace": "api", "hosts": ["api.apps.example.com"], "blue": {"image": "r/api:1"}}
    rec = run_stack(config)
    for namespace in ("app", "api"):
        peer = find(rec, ":PeerAuthentication", namespace).inputs
        assert peer["metadata"] == {**peer["metadata"], "name": "default", "namespace": namespace}
        assert peer["spec"] == {"mtls": {"mode": "STRICT"}}
        policy = find(rec, ":NetworkPolicy", namespace).inputs
        assert policy["metadata"]["namespace"] == namespace
        assert policy["spec"]["podSelector"] == {} and policy["spec"]["policyTypes"] == ["Ingress"]
        assert policy["spec"]["ingress"][0] == {"from": [GATEWAY_PODS, ISTIOD, {"podSelector": {}}]}


def test_prometheus_may_scrape_only_the_sidecar_metrics_port():
    with_prometheus = network_policy("app", {"istio": "ingressgateway"}, "istio-system", prometheus=True)["spec"]["ingress"]
    assert with_prometheus[1]["ports"] == [{"protocol": "TCP", "port": 15020}]
    assert with_prometheus[1]["from"][0]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}
    assert len(network_policy("app", {"istio": "ingressgateway"}, "istio-system", prometheus=False)["spec"]["ingress"]) == 1


def test_gateway_pods_are_admitted_from_their_own_namespace(run_stack, config):
    config["gateway"].update(workloadNamespace="edge", selector={"istio": "edge-gateway"})
    policy = find(run_stack(config), ":NetworkPolicy", "app").inputs
    assert policy["spec"]["ingress"][0]["from"][0] == {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "edge"}},
        "podSelector": {"matchLabels": {"istio": "edge-gateway"}},
    }


def test_gateway_without_tls_serves_http(config):
    servers = gateway_manifest(parse_stack_config(config).gateway)["spec"]["servers"]
    assert [s["port"]["protocol"] for s in servers] == ["HTTP"] and "tls" not in servers[0]


@pytest.mark.parametrize(("redirect", "http_tls"), [(True, {"httpsRedirect": True}), (False, None)])
def test_gateway_with_tls_serves_https(config, redirect, http_tls):
    config["gateway"]["tls"] = {"credentialName": "front-tls", "httpsRedirect": redirect}
    https, http = gateway_manifest(parse_stack_config(config).gateway)["spec"]["servers"]
    assert https["port"] == {"number": 443, "name": "https", "protocol": "HTTPS"}
    assert https["tls"] == {"mode": "SIMPLE", "credentialName": "front-tls"}
    assert http["port"]["number"] == 80 and http.get("tls") == http_tls
    assert https["hosts"] == http["hosts"] == config["gateway"]["hosts"]


def test_tls_makes_preview_urls_https(run_stack, config):
    config["gateway"]["tls"] = {"credentialName": "front-tls"}
    assert run_stack(config).outputs["apps"]["front"]["previewUrl"] == "https://front.stg.example.com/test/"


def test_prod_stack_without_tls_is_refused_before_anything_is_registered(run_stack, config):
    import pulumi

    with pytest.raises(pulumi.RunError, match=r"gateway.tls: is required for stack prod"):
        run_stack(config, stack="prod")


def test_prod_stack_file_serves_https():
    gateway = find(run_plan("prod").recording, ":Gateway", "bluegreen-gateway").inputs
    assert [s["port"]["protocol"] for s in gateway["spec"]["servers"]] == ["HTTPS", "HTTP"]


def test_namespace_enables_injection_and_restricted_pod_security():
    labels = mesh_security.namespace("app")["metadata"]["labels"]
    assert labels["istio-injection"] == "enabled"
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
