"""Real requests through a real istiod and Envoy (e2e/mesh/up.sh): every routing claim, judged by which
color's server answered, and zero failed requests through every switch under a steady load.

The stack is `traffic`, one app `front` in its own namespace `traffic` (nothing shared with the other e2e
stacks), with a preview host, path and header, and short drain timings so a switch fits a test. The tests run
in order, as a user would: first up, preview, canary, mirror, flip, rollback, canary under load, a release,
a flip with the scale-down after the delay, and the negative controls.
"""

from __future__ import annotations

import copy
import time

import pytest
import yaml

from cli.release_run import ConsoleProgress, SignalStop, make_release
from tests.conftest import ROOT
from tests.e2e.harness import LocalStack, kubectl_json, live_weights
from tests.e2e.traffic import Load, answer_with, binomial_tolerance, colors, connect, pod_servers, sample, wait_until
from tests.stackfiles import copy_program

PROJECT = "bluegreen-platform"
STACK, APP, NAMESPACE = "traffic", "front", "traffic"
HOST, PREVIEW_HOST = "front.traffic.example.com", "front-preview.traffic.example.com"
BLUE_IMAGE, GREEN_IMAGE = "registry.local.example.com/web/front:1.4.2", "registry.local.example.com/web/front:1.5.0"
# Not in preview.allowedSourceRanges (127.0.0.0/8), and local: e2e/cluster/up.sh routes 10.244/16 to lo.
OUTSIDER = "10.244.250.7"
LOAD_RATE, LOAD_SECONDS = 200, 30
DELAY = 5  # drain.scaleDownDelaySeconds


def traffic_stack_file(path) -> None:
    """Pulumi.local.yaml's cluster and mesh, its front app alone in namespace `traffic`."""
    document = yaml.safe_load((ROOT / "Pulumi.local.yaml").read_text())
    config = document["config"]
    front = copy.deepcopy(config[f"{PROJECT}:apps"]["front"])
    front.update(namespace=NAMESPACE, hosts=[HOST], readinessTimeout="10s")
    front["preview"] = {**front["preview"], "host": PREVIEW_HOST}
    front["drain"] = {"preStopSeconds": 2, "appShutdownSeconds": 2, "terminationGracePeriodSeconds": 10, "scaleDownDelaySeconds": DELAY}
    config[f"{PROJECT}:gateway"] = {"name": "traffic-gateway", "namespace": NAMESPACE, "hosts": [HOST, PREVIEW_HOST]}
    config[f"{PROJECT}:apps"] = {APP: front}
    path.write_text(yaml.safe_dump(document, sort_keys=False))


@pytest.fixture(scope="module")
def stack(env, tmp_path_factory):
    work_dir = tmp_path_factory.mktemp("project")
    copy_program(work_dir)  # the release runner's guarded edits plan the edited file with the project's program
    stack_file = tmp_path_factory.mktemp("stackfile") / f"Pulumi.{STACK}.yaml"
    traffic_stack_file(stack_file)
    stack = LocalStack(work_dir, STACK, env, stack_file)
    yield stack
    stack.stack.destroy()
    stack.cli("stack", "rm", "--yes", STACK, check=False)


def front(stack: LocalStack) -> dict:
    return yaml.safe_load(stack.stack_file.read_text())["config"][f"{PROJECT}:apps"][APP]


def up(stack: LocalStack, **paths: str) -> float:
    """Sets config paths (apps.front.<path>), runs `pulumi up`, returns when the VirtualService's update ended
    (wall clock, from the engine's event stream)."""
    for path, value in paths.items():
        stack.set_path(f"apps.{APP}.{path}", value)
    updated: list[float] = []

    def record(event) -> None:
        outputs = event.res_outputs_event
        if outputs is not None and outputs.metadata.type.endswith("VirtualService") and outputs.metadata.op.value != "same":
            updated.append(time.time())

    result = stack.stack.up(on_event=record)
    assert result.summary.result == "succeeded"
    return updated[-1] if updated else time.time()


def shares(env, host: str, count: int, **kwargs) -> dict[str, float]:
    answers = sample(env, host, count, **kwargs)
    counted = colors(answers)
    return {color: n / count for color, n in counted.items()}


def switch_under_load(env, change, old: str, new: str, seconds: float = LOAD_SECONDS) -> tuple[Load, dict]:
    """Runs `change()` (returns the VirtualService update time) under the steady load, then keeps the load
    for the rest of `seconds`. Reports convergence (VirtualService update -> last answer from `old`)."""
    with Load(env, HOST, rate=LOAD_RATE) as load:
        time.sleep(3)  # a baseline before the switch
        started = time.monotonic()
        switched_at = change()
        time.sleep(max(0.0, seconds - 3 - (time.monotonic() - started)))
    last_old = load.last_served_by(old) if old != new else None
    converged = round(last_old - switched_at, 3) if last_old and last_old > switched_at else 0.0
    report = {**load.summary(switched_at, switched_at + max(converged, 0.5)), "convergence_s": converged}
    print(f"\n{old} -> {new}: {report}")
    return load, report


def test_first_up_serves_blue_to_every_request(stack: LocalStack, env):
    up(stack)
    seconds = wait_until(env, HOST, "blue")
    answers = sample(env, HOST, 200)
    assert colors(answers) == {"blue": 200}
    assert {a.image for a in answers} == {BLUE_IMAGE}
    print(f"\nroutes served {seconds:.2f}s after the first up")


def test_preview_reaches_the_idle_color_from_allowed_sources_only(stack: LocalStack, env):
    wait_until(env, PREVIEW_HOST, "green")
    assert colors(sample(env, PREVIEW_HOST, 50)) == {"green": 50}
    assert colors(sample(env, HOST, 50, headers={"x-preview": "true"})) == {"green": 50}
    path = sample(env, HOST, 50, path="/preview/cart")
    assert colors(path) == {"green": 50}
    # The path rewrite: the app sees `/cart`, not `/preview/cart` (istio_routing rewrites the prefix to /).
    connection = connect(env)
    connection.request("GET", "/preview/cart", headers={"Host": HOST})
    assert '"path": "/cart"' in connection.getresponse().read().decode()
    connection.close()
    # The same requests from a client address outside allowedSourceRanges: the gateway's DENY rule (403).
    outsider = {"source": OUTSIDER}
    assert colors(sample(env, PREVIEW_HOST, 20, **outsider)) == {"HTTP 403": 20}
    assert colors(sample(env, HOST, 20, headers={"x-preview": "true"}, **outsider)) == {"HTTP 403": 20}
    assert colors(sample(env, HOST, 20, path="/preview/", **outsider)) == {"HTTP 403": 20}
    assert colors(sample(env, HOST, 20, **outsider)) == {"blue": 20}  # production is open to everyone


def test_canary_25_sends_a_quarter_of_requests_to_green(stack: LocalStack, env):
    up(stack, canaryWeight="25")
    count = 800
    tolerance = binomial_tolerance(0.25, count)
    deadline = time.monotonic() + 30
    while True:  # until istiod has pushed the split, then one bounded sample decides
        seen = shares(env, HOST, 100)
        if seen.get("green", 0) > 0 or time.monotonic() > deadline:
            break
    seen = shares(env, HOST, count)
    print(f"\ncanary 25: green {seen.get('green', 0):.3f} over {count} requests (tolerance ±{tolerance:.3f})")
    assert set(seen) == {"blue", "green"}
    assert abs(seen["green"] - 0.25) <= tolerance
    up(stack, canaryWeight="0")
    wait_until(env, HOST, "blue")


def test_mirror_copies_reach_green_while_clients_see_blue(stack: LocalStack, env):
    up(stack, **{"mirror.percent": "100"})
    time.sleep(1)
    before = sum(s["mirrored"] for s in pod_servers(env) if s["namespace"] == NAMESPACE and s["color"] == "green")
    answers = sample(env, HOST, 200)
    assert colors(answers) == {"blue": 200}  # the copies' answers are discarded
    time.sleep(0.5)
    after = sum(s["mirrored"] for s in pod_servers(env) if s["namespace"] == NAMESPACE and s["color"] == "green")
    print(f"\nmirror 100%: green received {after - before} copies of 200 requests")
    assert 190 <= after - before <= 200
    stack.cli("config", "rm", "--path", f"{PROJECT}:apps.{APP}.mirror", "--stack", STACK)
    up(stack)


def test_a_flip_under_load_fails_no_request(stack: LocalStack, env):
    load, report = switch_under_load(env, lambda: up(stack, activeColor="green"), "blue", "green")
    assert report["failed"] == 0, report
    assert load.answers[-1].color == "green" and colors(sample(env, HOST, 100)) == {"green": 100}
    assert live_weights(env, NAMESPACE, APP) == {"green": 100}


def test_a_rollback_under_load_fails_no_request(stack: LocalStack, env):
    _, report = switch_under_load(env, lambda: up(stack, activeColor="blue"), "green", "blue")
    assert report["failed"] == 0, report
    assert colors(sample(env, HOST, 100)) == {"blue": 100}


def test_a_canary_0_25_0_under_load_fails_no_request(stack: LocalStack, env):
    with Load(env, HOST, rate=LOAD_RATE) as load:
        time.sleep(3)
        opened = up(stack, canaryWeight="25")
        time.sleep(10)
        closed = up(stack, canaryWeight="0")
        time.sleep(5)
    during = [a for a in load.answers if opened + 1 <= a.sent < closed]
    green_share = sum(a.color == "green" for a in during) / len(during)
    print(f"\ncanary 0->25->0: {load.summary(opened, closed)}, green share while open {green_share:.3f} of {len(during)}")
    assert not load.failed, load.summary(opened, closed)
    assert abs(green_share - 0.25) <= binomial_tolerance(0.25, len(during))
    assert load.last_served_by("green") < closed + 5


def test_a_release_walk_under_load_fails_no_request(stack: LocalStack, env, monkeypatch):
    stack.set_path(f"apps.{APP}.promotion.steps", "[25, 100]")
    stack.cli("config", "set", "--path", f"{PROJECT}:apps.{APP}.promotion.steps", "[25,100]", "--stack", STACK)
    stack.set_path(f"apps.{APP}.promotion.bake", "3s")
    up(stack)
    for key, value in stack.env.items():
        monkeypatch.setenv(key, value)
    with Load(env, HOST, rate=LOAD_RATE) as load:
        time.sleep(3)
        started = time.time()
        outcome = make_release(stack.work_dir, STACK, APP, ConsoleProgress(), SignalStop()).run()
        done = time.time()
        time.sleep(3)
    print(f"\nrelease blue -> green: {load.summary(started, done)}")
    assert outcome.exit_code == 0, outcome.summary
    assert not load.failed, load.summary(started, done)
    assert load.answers[-1].color == "green" and front(stack)["activeColor"] == "green"


def test_a_flip_with_the_scale_down_after_the_delay_fails_no_request(stack: LocalStack, env):
    def flip_and_scale_down() -> float:
        return up(stack, activeColor="blue", **{"green.replicas": "0"})

    _, report = switch_under_load(env, flip_and_scale_down, "green", "blue")
    assert report["failed"] == 0, report
    deployment = kubectl_json(env, "get", "deployment", f"{APP}-green", "-n", NAMESPACE)
    assert deployment["spec"]["replicas"] == 0
    stopped = [s for s in pod_servers(env) if s["namespace"] == NAMESPACE and s["color"] == "green" and s["state"] == "stopped"]
    assert stopped, "the green servers were stopped by the scale-down"


def test_negative_control_a_scale_down_without_the_delay_of_apps_that_stop_at_once_fails_requests(stack: LocalStack, env):
    """Sensitivity check of the zero-failure tests: with no scale-down delay and servers that ignore preStop
    (an app that exits at once), the old color's pods stop before every Envoy has the new route."""
    stack.set_path(f"apps.{APP}.green.replicas", "2")
    up(stack, **{"drain.scaleDownDelaySeconds": "0"})
    wait_until(env, HOST, "blue")
    answer_with(env, NAMESPACE, APP, "blue", 200, pre_stop=False)
    try:
        _, report = switch_under_load(env, lambda: up(stack, activeColor="green", **{"blue.replicas": "0"}), "blue", "green", seconds=15)
    finally:
        answer_with(env, NAMESPACE, APP, "blue", 200)
    assert report["failed"] > 0, report
