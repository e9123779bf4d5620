"""Mesh callers across namespaces: each app admits its allowed caller namespaces by NetworkPolicy and by
an ALLOW AuthorizationPolicy (components/app/callers.py)."""

from __future__ import annotations

import pytest

from cli.engine.plan import run_plan
from components.app import callers
from components.config import parse_stack_config
from tests.conftest import find


def _selects(selector, labels):
    """A Kubernetes label selector (matchLabels and In expressions) against labels."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    return all(labels.get(e["key"]) in e["values"] for e in selector.get("matchExpressions", []) if e["operator"] == "In")


def admitted_by_network_policies(policies, target_ns, target_labels, source_ns, source_labels, port):
    """Kubernetes semantics: policies selecting the target pod are OR-ed; a peer needs every selector it names."""
    selecting = [p for p in policies if p["metadata"]["namespace"] == target_ns and _selects(p["spec"]["podSelector"], target_labels)]
    for policy in selecting:
        for rule in policy["spec"]["ingress"]:
            if rule.get("ports") and port not in [p["port"] for p in rule["ports"]]:
                continue
            for peer in rule["from"]:
                ns_ok = (
                    _selects(peer["namespaceSelector"], {"kubernetes.io/metadata.name": source_ns})
                    if "namespaceSelector" in peer
                    else source_ns == target_ns
                )
                if ns_ok and _selects(peer.get("podSelector", {}), source_labels):
                    return True
    return not selecting


def allowed_by_authorization_policy(policy, source_ns):
    """An ALLOW policy: the request needs one rule whose source matches the peer's namespace."""
    return any(source_ns in src["source"]["namespaces"] for rule in policy["spec"]["rules"] for src in rule["from"])


def two_app_stack(run_stack, config, **api):
    config["apps"]["api"] = {"namespace": "api", "hosts": ["api.apps.example.com"], "port": 9000, "blue": {"image": "r/api:1"}, **api}
    rec = run_stack(config)
    policies = [r.inputs for r in rec.resources if r.type.endswith(":NetworkPolicy")]
    return rec, policies, find(rec, ":AuthorizationPolicy", "api-callers").inputs


API_POD = {"app": "api", "version": "blue"}
FRONT_POD = {"app": "front", "version": "blue"}


def test_apps_of_the_stack_call_each_other_across_namespaces_by_default(run_stack, config):
    _, policies, authz = two_app_stack(run_stack, config)
    assert admitted_by_network_policies(policies, "api", API_POD, "app", FRONT_POD, 9000)
    assert allowed_by_authorization_policy(authz, "app")
    # The gateway keeps its way in under the ALLOW policy; the policy selects only the app's pods.
    assert allowed_by_authorization_policy(authz, "istio-system")
    assert authz["metadata"]["namespace"] == "api" and authz["spec"]["action"] == "ALLOW"
    assert authz["spec"]["selector"] == {"matchLabels": {"app": "api"}}


def test_a_caller_from_a_namespace_not_listed_is_not_admitted(run_stack, config):
    _, policies, authz = two_app_stack(run_stack, config, allowedCallers=["batch"])
    assert authz["spec"]["rules"] == [{"from": [{"source": {"namespaces": ["api", "batch", "istio-system"]}}]}]
    for outsider in ("app", "default"):
        assert not admitted_by_network_policies(policies, "api", API_POD, outsider, FRONT_POD, 9000), outsider
        assert not allowed_by_authorization_policy(authz, outsider), outsider
    assert admitted_by_network_policies(policies, "api", API_POD, "batch", {"app": "job"}, 9000)
    assert not admitted_by_network_policies(policies, "api", API_POD, "batch", {"app": "job"}, 9001)  # only the app's port
    # Still in: the app's own namespace, the ingress gateway pods, and Prometheus on the sidecar metrics port only.
    assert admitted_by_network_policies(policies, "api", API_POD, "api", {"app": "other"}, 9000)
    assert admitted_by_network_policies(policies, "api", API_POD, "istio-system", {"istio": "ingressgateway"}, 9000)
    prometheus = {"app.kubernetes.io/name": "prometheus"}
    assert admitted_by_network_policies(policies, "api", API_POD, "istio-system", prometheus, 15020)
    assert not admitted_by_network_policies(policies, "api", API_POD, "istio-system", prometheus, 9000)


def test_local_stack_admits_front_calling_api():
    plan = run_plan("local")
    policies = [m for m in plan.manifests if m["kind"] == "NetworkPolicy"]
    authz = next(m for m in plan.manifests if m["kind"] == "AuthorizationPolicy" and m["metadata"]["name"] == "api-callers")
    assert admitted_by_network_policies(policies, "api", API_POD, "app", FRONT_POD, 9000)
    assert allowed_by_authorization_policy(authz, "app")


def test_callers_policies_and_preview_host_validate_against_the_schemas(config):
    from components.app import istio_routing
    from components.app.routing import routing_model
    from tests.conftest import SHARED, load_tool

    validator = SHARED / "tools" / "validate_manifests.py"
    if not validator.exists():
        pytest.skip("../shared is not present")
    tool = load_tool(validator)
    config["apps"]["front"]["preview"]["host"] = "front-preview.apps.example.com"
    stack = parse_stack_config(config)
    app = stack.apps["front"]
    manifests = [
        callers.network_policy("front", "app", 8080, ["api", "app"]),
        callers.authorization_policy("front", "app", ["api", "app"], "istio-system"),
        istio_routing.virtual_service("front", app, stack.gateway, routing_model(app)),
        istio_routing.preview_gate("front", app, stack.gateway),
    ]
    for manifest in manifests:
        assert tool.check(manifest, "1.33") == ("ok", []), manifest["kind"]
