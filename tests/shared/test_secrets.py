"""Secret stack config stays secret: inputs derived from a secret top-level key are registered as secrets."""

from __future__ import annotations

import json
from typing import Any

from cli.engine.mock import run_program
from components.shared.secrets import DERIVED_FROM
from tests.conftest import PROJECT, engine_config, find

SECRET_IMAGE = "asia-docker.pkg.dev/acme/web/front:1.5.0-secret-build"


def secret_inputs(registration) -> set[str]:
    """The inputs the engine received as secrets (the mock engine records them in options.secretInputs)."""
    return set(registration.options.get("secretInputs", []))


def test_a_secret_value_under_apps_never_reaches_a_resource_in_plain_text(config):
    # As `pulumi config set --secret --path apps.front.green.image ...` leaves it: the engine marks all of `apps`.
    config["apps"]["front"]["green"]["image"] = SECRET_IMAGE
    rec = run_program("test", engine_config(config), secret_keys=[f"{PROJECT}:apps"])
    carrying = [r for r in rec.resources if SECRET_IMAGE in json.dumps(r.inputs)]
    assert carrying  # it is used: the green Deployment runs it
    leaks = [
        (r.urn, key)
        for r in carrying
        for key, value in r.inputs.items()
        if SECRET_IMAGE in json.dumps(value) and key not in secret_inputs(r)
    ]
    assert leaks == []
    assert {"apiVersion", "kind", "metadata", "spec"} <= secret_inputs(find(rec, ":Deployment", "front-green"))
    # The dynamic switch gate's provider stays readable by the provider host; its config inputs are secret.
    gate = next(r for r in rec.resources if r.type.startswith("pulumi-python:dynamic") and r.name == "front-switch-gate")
    assert "__provider" not in secret_inputs(gate) and set(gate.inputs) - {"__provider"} <= secret_inputs(gate)


def test_only_resources_built_from_the_secret_key_are_wrapped(config):
    rec = run_program("test", engine_config(config), secret_keys=[f"{PROJECT}:istio"])
    assert {"stdin", "create", "update"} <= secret_inputs(find(rec, "command:local:Command", "istioctl-install"))
    # The Kubernetes provider and the Gateway do not come from `istio`.
    assert secret_inputs(find(rec, "pulumi:providers:kubernetes", "gke")) == {"kubeconfig"}
    assert DERIVED_FROM["bluegreen:gateway:IngressGateway"].isdisjoint({"istio"})
    gateway = next(r for r in rec.resources if r.type.endswith(":Gateway"))
    assert secret_inputs(gateway) == set()


def test_no_secret_keys_no_wrapping(run_stack, config):
    rec = run_stack(config)
    # Only what is a credential by nature: the kubeconfig handed to istioctl, the provider and the gates
    # (a dynamic provider that captures it is pickled as a secret too).
    secret = {key for r in rec.resources for key in secret_inputs(r)}
    assert secret <= {"environment", "kubeconfig", "cluster", "__provider"}, secret


def test_the_offline_plan_of_a_stack_with_a_secret_still_renders(tmp_path, config):
    """A `secure:` value (a placeholder offline) under a key makes its resources secret; the plan still
    writes manifests and routing tables from them."""
    from cli.engine.plan import routing_tables, run_plan
    from tests.stackfiles import copy_program, write_stack

    copy_program(tmp_path)
    config["apps"]["front"]["preview"].update(
        header={"name": "x-preview", "value": {"secure": "v1:abc"}}, allowedSourceRanges=["10.0.0.0/8"]
    )
    write_stack(tmp_path, "sec", config)
    plan = run_plan("sec", tmp_path)
    assert plan.secret_keys == [f"{PROJECT}:apps"]
    assert "front" in routing_tables(plan.manifests)
    assert "spec" in secret_inputs(find(plan.recording, ":VirtualService", "front"))


def test_validation_still_reads_the_secret_value(config):
    config["apps"]["front"]["canaryWeight"] = 150
    import pulumi
    import pytest

    with pytest.raises(pulumi.RunError, match=r"apps.front.canaryWeight: must be between 0 and 99, got 150"):
        run_program("test", engine_config(config), secret_keys=[f"{PROJECT}:apps"])


def test_outputs_derived_from_a_secret_key_are_secret(monkeypatch, config):
    import pulumi

    import components.shared.secrets as secrets

    exported: dict[str, Any] = {}
    monkeypatch.setattr(pulumi, "export", lambda name, value: exported.__setitem__(name, value))
    run_program("test", engine_config(config), secret_keys=[f"{PROJECT}:apps"])
    from pulumi.runtime.sync_await import _sync_await

    assert _sync_await(exported["apps"].is_secret()) is True
    assert exported["gateway"] == "app/bluegreen-gateway"  # built from `gateway` only, which is not secret
    assert secrets.secret_keys(PROJECT, ["apps", "gateway"]) == frozenset({"apps"})
