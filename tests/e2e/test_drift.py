"""`make drift` through the real engine, on live objects: hand edits (`kubectl edit` of the VirtualService's weights,
`kubectl scale` of a Deployment) are reported in plain words, routing first, exit 1, with the stack's state and
stack file unchanged; `pulumi up --refresh` takes them back and `make drift` is clean again.

The stack is `drift`, one app `front` in its own namespace `drift` (nothing shared with the other e2e stacks;
no preview routes, so no preview gate in the gateway's namespace), destroyed at the end.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT
from tests.e2e.harness import LocalStack, kubectl_json, live_weights, one_app_stack_file

STACK, APP, NAMESPACE = "drift", "front", "drift"
# kubectl edit's editor: the default route sends 30% to green (a hand edit of the YAML kubectl edit opens).
EDITOR = textwrap.dedent(
    """
    import sys, yaml
    path = sys.argv[1]
    document = yaml.safe_load(open(path))
    route = document["spec"]["http"][-1]["route"]
    route[0]["weight"] = 70
    route.append({"destination": {**route[0]["destination"], "subset": "green"}, "weight": 30})
    yaml.safe_dump(document, open(path, "w"))
    """
)


@pytest.fixture(scope="module")
def drift_stack(env, tmp_path_factory):
    subprocess.run(["kubectl", "create", "namespace", "istio-system"], env=env, capture_output=True, check=False)  # istio.mode existing
    stack_file = tmp_path_factory.mktemp("stackfile") / f"Pulumi.{STACK}.yaml"
    one_app_stack_file(stack_file, APP, NAMESPACE, preview=None)
    stack = LocalStack(tmp_path_factory.mktemp("project"), STACK, env, stack_file)
    yield stack
    stack.stack.destroy()
    stack.cli("stack", "rm", "--yes", STACK, check=False)


def make_drift(stack: LocalStack) -> subprocess.CompletedProcess:
    """`make drift` as a user runs it, on the scratch project (its stack file) with the e2e cluster's backend:
    the CLI's own exit code (make turns a failure into 2), so the test runs the command make runs, too."""
    made = subprocess.run(
        ["make", "-s", "--no-print-directory", "drift", f"STACK={STACK}", f"DRIFT_ARGS=--root {stack.work_dir}"],
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    cli = subprocess.run(
        [sys.executable, "-m", "cli", "drift", "--stack", STACK, "--root", str(stack.work_dir)],
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert made.stdout == cli.stdout and made.returncode == (0 if cli.returncode == 0 else 2), (made, cli)
    return cli


def fingerprint(stack: LocalStack) -> dict[str, str]:
    """The stack's state as the backend stores it (export: the checkpoint) and its stack file, hashed."""
    exported = stack.cli("stack", "export", "--stack", STACK).stdout
    return {
        "state": hashlib.sha256(exported.encode()).hexdigest(),
        "stack file": hashlib.sha256(stack.stack_file.read_bytes()).hexdigest(),
    }


def test_no_drift_right_after_up(drift_stack: LocalStack, env):
    drift_stack.up()
    assert live_weights(env, NAMESPACE, APP) == {"blue": 100}
    before = fingerprint(drift_stack)
    result = make_drift(drift_stack)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("no drift: the ") and f"live objects of stack {STACK} are what its stack config says" in result.stdout
    assert fingerprint(drift_stack) == before


def test_hand_edits_are_reported_routing_first_and_nothing_is_written(drift_stack: LocalStack, env, tmp_path):
    editor = tmp_path / "editor.py"
    editor.write_text(EDITOR)
    subprocess.run(
        ["kubectl", "edit", "virtualservices.networking.istio.io", APP, "-n", NAMESPACE],
        env={**env, "KUBE_EDITOR": f"{sys.executable} {editor}"},
        check=True,
        capture_output=True,
    )
    subprocess.run(["kubectl", "scale", "deployment", "front-green", "-n", NAMESPACE, "--replicas", "5"], env=env, check=True)
    assert live_weights(env, NAMESPACE, APP) == {"blue": 70, "green": 30}
    before = fingerprint(drift_stack)
    result = make_drift(drift_stack)
    print(f"\n{result.stdout}")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "drift: changed on the cluster since the last pulumi up (kubectl edit, scale, delete):"
    assert lines[1:4] == [
        "  front: live VirtualService sends 30% to green, stack config says 0%",
        "  front: live VirtualService sends 70% to blue, stack config says 100%",
        "  front-green: live Deployment runs 5 replicas, stack config says 2 (apps.front.green.replicas)",
    ]
    assert lines[-1] == f"pulumi up --refresh -s {STACK} puts the live objects back to what the stack config says"
    assert "not applied" not in result.stdout
    assert fingerprint(drift_stack) == before  # read-only: the state and the stack file are as they were
    assert live_weights(env, NAMESPACE, APP) == {"blue": 70, "green": 30}  # and the cluster too


def test_pulumi_up_refresh_restores_and_drift_is_clean_again(drift_stack: LocalStack, env):
    drift_stack.up(refresh=True)
    assert live_weights(env, NAMESPACE, APP) == {"blue": 100}
    assert kubectl_json(env, "get", "deployment", "front-green", "-n", NAMESPACE)["spec"]["replicas"] == 2
    result = make_drift(drift_stack)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("no drift: ")


def test_a_stack_config_change_not_yet_applied_is_said_apart(drift_stack: LocalStack, env):
    drift_stack.set_path("apps.front.canaryWeight", "10")
    result = make_drift(drift_stack)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"not applied: Pulumi.{STACK}.yaml changed since the last pulumi up:"
    assert "  front: live VirtualService sends 0% to green, stack config says 10%" in lines
    assert "drift: changed on the cluster" not in result.stdout
    drift_stack.set_path("apps.front.canaryWeight", "0")
