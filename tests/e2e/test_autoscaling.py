"""Autoscaled colors through the real engine, on live objects: one autoscaling/v2 HPA per color, the real HPA
controller of kube-controller-manager (no metrics server: it only holds each Deployment between its bounds),
the switch gate counting the active color's live replicas, and `make release` raising the released color's
HPA floor for each step.

The stack is `hpa`, one app `front` in its own namespace `hpa`, autoscaling 1..6, steps 50/100. Blue is made
to run 4 by hand (what its HPA would do under load): a flip to green at its floor of 1 is refused; the
release raises green's floor to 2, then 4, and flips only once green runs 4. The tests run in order.
"""

from __future__ import annotations

import copy
import subprocess
import time

import pytest
import yaml
from rich.console import Console

from cli.release.run import ConsoleProgress, SignalStop, make_release
from tests.conftest import ROOT
from tests.e2e.harness import LocalStack, kubectl_json, live_weights, own_stack

PROJECT = "bluegreen-platform"
STACK, APP, NAMESPACE = "hpa", "front", "hpa"
ACTIVE_LOAD = 4  # blue's replicas, as its HPA would run them under load


def hpa_stack_file(path) -> None:
    """Pulumi.local.yaml's cluster and mesh, its front app alone in namespace `hpa`, autoscaled."""
    document = yaml.safe_load((ROOT / "Pulumi.local.yaml").read_text())
    config = document["config"]
    front = copy.deepcopy(config[f"{PROJECT}:apps"]["front"])
    for color in ("blue", "green"):
        del front[color]["replicas"]  # the HPA sets them
    front.update(
        namespace=NAMESPACE,
        hosts=["front.hpa.example.com"],
        readinessTimeout="90s",  # the HPA controller syncs every 15 s
        autoscaling={"minReplicas": 1, "maxReplicas": 6, "targetCPUUtilization": 70},
        promotion={"steps": [50, 100], "bake": "1s"},
    )
    config[f"{PROJECT}:gateway"] = {"name": "hpa-gateway", "namespace": NAMESPACE, "hosts": ["front.hpa.example.com"]}
    config[f"{PROJECT}:apps"] = {APP: front}
    path.write_text(yaml.safe_dump(document, sort_keys=False))


@pytest.fixture(scope="module")
def hpa_stack(env, tmp_path_factory):
    yield from own_stack(env, tmp_path_factory, STACK, hpa_stack_file)


def front(stack: LocalStack) -> dict:
    return yaml.safe_load(stack.stack_file.read_text())["config"][f"{PROJECT}:apps"][APP]


def deployment(env, color: str) -> dict:
    return kubectl_json(env, "get", "deployment", f"{APP}-{color}", "-n", NAMESPACE)


def hpa_floor(env, color: str) -> int:
    return kubectl_json(env, "get", "hpa", f"{APP}-{color}", "-n", NAMESPACE)["spec"]["minReplicas"]


def wait_for(check, what: str, limit: float = 90):
    started = time.monotonic()
    while not (value := check()):
        assert time.monotonic() - started < limit, f"not after {limit:g}s: {what}"
        time.sleep(1)
    return value


def available(env, color: str) -> int:
    return deployment(env, color).get("status", {}).get("availableReplicas") or 0


class Recording:
    """The real target, recording green's live replicas and floor and the live route after every `up`."""

    def __init__(self, target, env):
        self.target, self.env, self.after_up = target, env, []

    def up(self, say):
        try:
            self.target.up(say)
        finally:
            self.after_up.append((live_weights(self.env, NAMESPACE, APP), available(self.env, "green"), hpa_floor(self.env, "green")))

    def routing(self, app, namespace):
        return self.target.routing(app, namespace)

    def live_replicas(self, app, namespace, color):
        return self.target.live_replicas(app, namespace, color)


def test_each_color_gets_an_hpa_that_owns_its_replicas(hpa_stack: LocalStack, env):
    hpa_stack.up()
    assert live_weights(env, NAMESPACE, APP) == {"blue": 100}
    for color in ("blue", "green"):
        assert hpa_floor(env, color) == 1
        # Pulumi applied no replicas: it owns no spec.replicas, so no field conflict with the HPA controller.
        managed = kubectl_json(env, "get", "deployment", f"{APP}-{color}", "-n", NAMESPACE, "--show-managed-fields")["metadata"]
        pulumi_fields = [f for f in managed["managedFields"] if f["manager"].startswith("pulumi")]
        assert pulumi_fields and all("f:replicas" not in f["fieldsV1"].get("f:spec", {}) for f in pulumi_fields), pulumi_fields
        assert wait_for(lambda c=color: available(env, c) == 1, f"{color} at its floor of 1")


def test_a_flip_to_a_color_at_its_floor_while_the_active_runs_4_is_refused(hpa_stack: LocalStack, env):
    subprocess.run(["kubectl", "scale", "deployment", f"{APP}-blue", "-n", NAMESPACE, "--replicas", str(ACTIVE_LOAD)], env=env, check=True)
    wait_for(lambda: available(env, "blue") == ACTIVE_LOAD, "blue at 4")
    time.sleep(20)  # past an HPA sync: without metrics the controller leaves a count between the bounds alone
    assert deployment(env, "blue")["spec"]["replicas"] == ACTIVE_LOAD
    hpa_stack.set_path(f"apps.{APP}.activeColor", "green")
    with pytest.raises(Exception) as refused:
        hpa_stack.up()
    message = str(refused.value)
    assert (
        "front: routing not changed: green would take 100% of the load blue carries on 4 live replicas, which needs 4 replicas "
        "(100% of 4, rounded up), but green runs 1 and its HPA floor is 1" in message
    ), message[-3000:]
    assert live_weights(env, NAMESPACE, APP) == {"blue": 100}  # never sent to the 1-replica color
    assert deployment(env, "green")["spec"]["replicas"] == 1
    hpa_stack.set_path(f"apps.{APP}.activeColor", "blue")
    hpa_stack.up()


def test_make_release_raises_the_floor_for_each_step_and_restores_it_after_the_flip(hpa_stack: LocalStack, env, monkeypatch):
    for key, value in hpa_stack.env.items():
        monkeypatch.setenv(key, value)
    runner = make_release(hpa_stack.work_dir, STACK, APP, ConsoleProgress(Console()), SignalStop())
    runner.session.target = target = Recording(runner.session.target, env)
    outcome = runner.run()
    assert outcome.exit_code == 0, outcome.summary
    # Each step: the live route, green's available replicas and its HPA floor right after the step's `up`.
    assert target.after_up[:2] == [({"blue": 50, "green": 50}, 2, 2), ({"green": 100}, ACTIVE_LOAD, ACTIVE_LOAD)]
    assert target.after_up[2] == ({"green": 100}, ACTIVE_LOAD, 1)  # the floor's own up: back to minReplicas
    assert [(r.label, r.result) for r in outcome.records] == [("1/2", "done"), ("2/2", "done"), ("floor", "done")]
    assert "floors" not in front(hpa_stack)["autoscaling"] and front(hpa_stack)["activeColor"] == "green"
    assert "green's HPA floor is back to autoscaling.minReplicas" in outcome.summary


def test_a_color_scaled_to_zero_loses_its_hpa_and_stays_down(hpa_stack: LocalStack, env):
    hpa_stack.set_path(f"apps.{APP}.blue.replicas", "0")
    hpa_stack.up()
    assert deployment(env, "blue")["spec"]["replicas"] == 0  # taken back from the scale that ran it at 4
    found = subprocess.run(["kubectl", "get", "hpa", f"{APP}-blue", "-n", NAMESPACE], env=env, capture_output=True, text=True)
    assert found.returncode != 0 and "NotFound" in found.stderr
    time.sleep(20)  # past an HPA sync: nothing brings it back
    assert deployment(env, "blue")["spec"]["replicas"] == 0
    assert live_weights(env, NAMESPACE, APP) == {"green": 100}
