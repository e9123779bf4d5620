"""The stack-wide rules' lookups (policies/guardrails/model.Stack, routing.Routes) are indexed: they must answer as a
scan over every resource would, in stack order, also for props of unexpected shapes."""

from __future__ import annotations

import copy

from policies.guardrails.model import DEPLOYMENT, SERVICE, Resource, Stack, pod_template_labels
from policies.guardrails.routing import Routes
from tests.policy_records import deployment, good_stack, k8s


def renamed(resource: Resource, name: str, namespace: str | object = "app", labels: dict | None = None) -> Resource:
    props = copy.deepcopy(dict(resource.props))
    props["metadata"].update(name=name, namespace=namespace)
    if labels is not None:
        props["spec"]["template"]["metadata"]["labels"] = labels
    return k8s(resource.type, props)


def test_find_answers_the_first_match_and_of_keeps_stack_order():
    first, second = deployment("blue"), deployment("blue")  # the same kind, namespace and name twice
    stack = Stack([first, deployment("green"), second])
    assert stack.find(DEPLOYMENT, "app", "front-blue") is first
    assert stack.find(DEPLOYMENT, "app", "front-none") is None and stack.find(SERVICE, "app", "front-blue") is None
    assert [d.k8s_name for d in stack.of(DEPLOYMENT)] == ["front-blue", "front-green", "front-blue"]


def test_props_of_unexpected_shapes_are_never_found_and_break_nothing():
    odd = renamed(deployment("blue"), "front-blue", namespace=["app"], labels={"app": ["front"], "version": "blue"})
    stack = Stack([odd, deployment("green")])
    assert stack.find(DEPLOYMENT, "app", "front-blue") is None
    assert [d.k8s_name for d in stack.of(DEPLOYMENT)] == ["front-blue", "front-green"]
    service = next(r for r in good_stack() if r.type.endswith(":Service"))
    assert Routes(stack).deployments(service, {"version": "green"}) == [stack.of(DEPLOYMENT)[1]]


def test_a_services_deployments_are_those_a_scan_finds():
    service = next(r for r in good_stack() if r.type.endswith(":Service"))  # selects app=front in namespace app
    blue, green = deployment("blue"), deployment("green")
    resources = [
        blue,
        renamed(green, "other-green", labels={"app": "other", "version": "green"}),
        renamed(green, "front-green-elsewhere", namespace="api"),
        renamed(green, "front-green-extra", labels={"app": "front", "version": "green", "tier": "web"}),
        green,
        renamed(blue, "front-unlabelled", labels={}),
    ]
    routes = Routes(Stack(resources))
    for subset in ({"version": "green"}, {"version": "blue"}, {}, {"version": "none"}, {"tier": "web"}):
        wanted = {**service.spec["selector"], **subset}
        scanned = [d for d in resources if d.namespace == service.namespace and wanted.items() <= pod_template_labels(d).items()]
        assert routes.deployments(service, subset) == scanned
    assert [d.k8s_name for d in routes.deployments(service, {"version": "green"})] == ["front-green-extra", "front-green"]
