"""Real requests through a real istiod and Envoy (e2e/mesh/up.sh): every routing claim, judged by which
color's server answered, and zero failed requests through every switch under a steady load.

The stack is `traffic`, one app `front` in its own namespace `traffic` (nothing shared with the other e2e
stacks), with a preview host, path and header, and short drain timings so a switch fits a test. The tests run
in order, as a user would: first up, preview, canary, mirror, flip, rollback, canary under load, a release,
a flip with the scale-down after the delay, and the negative controls.
"""

from __future__ import annotations

import time

import pytest
import yaml
from rich.console import Console

from cli.release.run import ConsoleProgress, SignalStop, make_release
from tests.e2e.harness import LocalStack, kubectl_json, live_weights
from tests.e2e.traffic import Load, answer_with, binomial_tolerance, colors, connect, pod_servers, sample, wait_until
from tests.e2e.traffic_stack import (
    APP,
    BLUE_IMAGE,
    HOST,
    LOAD_RATE,
    NAMESPACE,
    PREVIEW_HOST,
    PROJECT,
    STACK,
    late_push,
    switch_under_load,
    traffic_stack,
    up,
)

# Not in preview.allowedSourceRanges (127.0.0.0/8), and local: e2e/cluster/up.sh routes 10.244/16 to lo.
OUTSIDER = "10.244.250.7"
LATE_PUSH = 2.0  # seconds istiod holds a route back in the scale-down tests (below DELAY: the delay covers it)


@pytest.fixture(scope="module")
def stack(env, tmp_path_factory):
    with traffic_stack(env, tmp_path_factory.mktemp("traffic")) as stack:
        yield stack


def front(stack: LocalStack) -> dict:
    return yaml.safe_load(stack.stack_file.read_text())["config"][f"{PROJECT}:apps"][APP]


def shares(env, host: str, count: int, **kwargs) -> dict[str, float]:
    answers = sample(env, host, count, **kwargs)
    counted = colors(answers)
    return {color: n / count for color, n in counted.items()}


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
    assert colors(sample(env, PREVIEW_HOST, 20, source=OUTSIDER)) == {"HTTP 403": 20}
    assert colors(sample(env, HOST, 20, headers={"x-preview": "true"}, source=OUTSIDER)) == {"HTTP 403": 20}
    assert colors(sample(env, HOST, 20, path="/preview/", source=OUTSIDER)) == {"HTTP 403": 20}
    assert colors(sample(env, HOST, 20, source=OUTSIDER)) == {"blue": 20}  # production is open to everyone


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
    def green_requests() -> int:
        return sum(s["requests"] for s in pod_servers(env) if s["namespace"] == NAMESPACE and s["color"] == "green")

    up(stack, **{"mirror.percent": "100"})
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # until istiod has pushed the mirror policy
            seen = green_requests()
            sample(env, HOST, 10)
            time.sleep(0.3)
            if green_requests() > seen:
                break
        # Every request green answers while every client answer comes from blue is a copy (Istio does not
        # append Envoy's `-shadow` host suffix, so the copies look like the originals).
        before = green_requests()
        answers = sample(env, HOST, 200)
        assert colors(answers) == {"blue": 200}  # the copies' answers are discarded
        time.sleep(0.5)
        copies = green_requests() - before
        print(f"\nmirror 100%: green received {copies} copies of 200 requests")
        assert 190 <= copies <= 200
    finally:  # the later tests start from no mirror (a canary refuses to run beside one)
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
    last_green = load.last_served_by("green")
    assert last_green is not None and last_green < closed + 5


def test_a_release_walk_under_load_fails_no_request(stack: LocalStack, env, monkeypatch):
    stack.set_path(f"apps.{APP}.promotion.steps[0]", "25")
    stack.set_path(f"apps.{APP}.promotion.steps[1]", "100")
    stack.set_path(f"apps.{APP}.promotion.bake", "3s")
    up(stack)
    for key, value in stack.env.items():
        monkeypatch.setenv(key, value)
    with Load(env, HOST, rate=LOAD_RATE) as load:
        time.sleep(3)
        started = time.time()
        outcome = make_release(stack.work_dir, STACK, APP, ConsoleProgress(Console()), SignalStop()).run()
        done = time.time()
        time.sleep(3)
    print(f"\nrelease blue -> green: {load.summary(started, done)}")
    assert outcome.exit_code == 0, outcome.summary
    assert not load.failed, load.summary(started, done)
    assert load.answers[-1].color == "green" and front(stack)["activeColor"] == "green"


def test_a_flip_with_the_scale_down_after_the_delay_fails_no_request_even_when_the_push_is_late(stack: LocalStack, env):
    """The delay is what keeps the old color serving until the gateway has the new route: here istiod pushes
    it LATE_PUSH seconds after the VirtualService changed, and the scale-down still drops nothing."""
    with late_push(LATE_PUSH) as routed:
        _, report = switch_under_load(
            env, lambda: up(stack, routed, activeColor="blue", previousColor="green", **{"green.replicas": "0"}), "green", "blue"
        )
    assert report["failed"] == 0, report
    assert report["convergence_s"] >= LATE_PUSH - 0.5, "the gateway kept the old route while istiod was frozen"
    deployment = kubectl_json(env, "get", "deployment", f"{APP}-green", "-n", NAMESPACE)
    assert deployment["spec"]["replicas"] == 0
    stopped = [s for s in pod_servers(env) if s["namespace"] == NAMESPACE and s["color"] == "green" and s["state"] == "stopped"]
    assert stopped, "the green servers were stopped by the scale-down"


def test_negative_control_the_same_switch_without_the_delay_fails_requests(stack: LocalStack, env):
    """Sensitivity check of the zero-failure tests: the same late push with `scaleDownDelaySeconds: 0` and
    servers that exit at once (no preStop): the old color's pods are gone while the gateway still routes to
    them, and requests fail."""
    stack.set_path(f"apps.{APP}.green.replicas", "2")
    up(stack, **{"drain.scaleDownDelaySeconds": "0"})
    wait_until(env, HOST, "blue")
    answer_with(env, NAMESPACE, APP, "blue", 200, pre_stop=False)
    try:
        with late_push(LATE_PUSH) as routed:
            _, report = switch_under_load(
                env,
                lambda: up(stack, routed, activeColor="green", previousColor="blue", **{"blue.replicas": "0"}),
                "blue",
                "green",
                seconds=15,
            )
    finally:
        answer_with(env, NAMESPACE, APP, "blue", 200)
    assert report["failed"] > 0, report
