"""`make release` through the real engine, on live objects: the runner edits the stack file and runs a real
`pulumi up` (Automation API) per step, with the switch gate and the real Prometheus deciding.

The stack is `release`, one app `front` in its own namespace `release` (nothing shared with the other e2e
stacks), with steps 10/50/100 and a 3 s bake. Synthetic Istio series: green healthy, blue not. The tests run
in order, as a user would: a healthy release to green, an unhealthy one to blue, a color scaled to 0, a
Ctrl-C, a SIGTERM mid-`up`, and a hard stop that a re-run resumes.
"""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml
from rich.console import Console

from cli.release.record import Outcome
from cli.release.run import ConsoleProgress, SignalStop, make_release
from cli.release.steps import FLIP
from tests.app.test_promotion_prometheus import running_prometheus
from tests.conftest import ROOT
from tests.e2e.harness import LocalStack, live_weights, own_stack

PROJECT = "bluegreen-platform"
STACK, APP, NAMESPACE = "release", "front", "release"
POLICY_PACK = [str(ROOT / "tests" / "e2e" / "policy_pack.sh")]
POLICY_CONFIG = [str(ROOT / "policies" / "config" / "local.json")]
BAKE = 3


def release_stack_file(path) -> None:
    """Pulumi.local.yaml's cluster and mesh, its front app alone in namespace `release`, with a step plan."""
    document = yaml.safe_load((ROOT / "Pulumi.local.yaml").read_text())
    config = document["config"]
    front = copy.deepcopy(config[f"{PROJECT}:apps"]["front"])
    front.update(
        namespace=NAMESPACE,
        hosts=["front.release.example.com"],
        readinessTimeout="10s",
        promotion={"steps": [10, 50, 100], "bake": f"{BAKE}s"},
    )
    config[f"{PROJECT}:gateway"] = {"name": "release-gateway", "namespace": NAMESPACE, "hosts": ["front.release.example.com"]}
    config[f"{PROJECT}:apps"] = {APP: front}
    path.write_text(yaml.safe_dump(document, sort_keys=False))


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory):
    with running_prometheus(tmp_path_factory.mktemp("prometheus"), APP, NAMESPACE) as scraped:
        yield scraped.url


@pytest.fixture(scope="module")
def release_stack(env, tmp_path_factory):
    yield from own_stack(env, tmp_path_factory, STACK, release_stack_file)


def front(stack: LocalStack) -> dict:
    return yaml.safe_load(stack.stack_file.read_text())["config"][f"{PROJECT}:apps"][APP]


class LiveChecked:
    """The real target, plus the live VirtualService (kubectl) and the time after every `up`."""

    def __init__(self, target, env):
        self.target, self.env, self.after_up = target, env, []

    def up(self, say):
        started = time.monotonic()
        try:
            self.target.up(say)
        finally:  # a refused up too: the live route must not have moved
            self.after_up.append((live_weights(self.env, NAMESPACE, APP), time.monotonic() - started))

    def routing(self, app, namespace):
        return self.target.routing(app, namespace)

    def live_replicas(self, app, namespace, color):
        return self.target.live_replicas(app, namespace, color)


def run_in_process(stack: LocalStack, monkeypatch, **options) -> tuple[Outcome, LiveChecked]:
    for key, value in stack.env.items():
        monkeypatch.setenv(key, value)
    stop = SignalStop()  # not installed: pytest keeps its own Ctrl-C
    runner = make_release(stack.work_dir, STACK, APP, ConsoleProgress(Console()), stop, **options)
    runner.session.target = LiveChecked(runner.session.target, stack.env)
    return runner.run(), runner.session.target


def cli_release(stack: LocalStack) -> subprocess.Popen[str]:
    """`python -m cli release` as a user starts it, in its own process group (as a terminal's foreground job)."""
    env = {**stack.env, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "cli", "release", "--stack", STACK, "--app", APP, "--root", str(stack.work_dir)]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def read_until(process: subprocess.Popen[str], wanted: str, limit: float = 120) -> list[str]:
    assert process.stdout is not None, "started with stdout=PIPE"
    lines, started = [], time.monotonic()
    for line in process.stdout:
        lines.append(line.rstrip())
        if wanted in line:
            return lines
        assert time.monotonic() - started < limit, "\n".join(lines)
    pytest.fail(f"the release ended before {wanted!r}:\n" + "\n".join(lines), pytrace=False)


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    out, _ = process.communicate(timeout=180)
    return process.returncode, out


def test_first_up(release_stack: LocalStack, env):
    release_stack.up()
    assert live_weights(env, NAMESPACE, APP) == {"blue": 100}


def test_a_release_to_the_healthy_color_walks_every_step_and_ends_flipped(release_stack: LocalStack, env, monkeypatch, prometheus_url):
    # Analysis after the first deployment (on create the gate would check blue, the unhealthy one, too).
    for key, value in {"prometheusUrl": prometheus_url, "window": "30s"}.items():
        release_stack.set_path(f"apps.{APP}.promotion.analysis.{key}", value)
    release_stack.up()
    outcome, target = run_in_process(release_stack, monkeypatch, policy_packs=POLICY_PACK, policy_pack_configs=POLICY_CONFIG)
    assert outcome.exit_code == 0, outcome.summary
    assert [live for live, _ in target.after_up] == [{"blue": 90, "green": 10}, {"blue": 50, "green": 50}, {"green": 100}]
    assert [(r.label, r.result) for r in outcome.records] == [("1/3", "done"), ("2/3", "done"), ("3/3", "done")]
    for record in outcome.records:
        held = record.bake_seconds if record.weight != FLIP else 0
        assert held == 0 or BAKE <= held < BAKE + 2
        print(
            f"\nstep {record.label} ({record.weight}%): {record.up_seconds:.1f}s beyond its {held:.1f}s bake (edit, plan check, pulumi up)"
        )
    assert (front(release_stack)["activeColor"], front(release_stack)["canaryWeight"]) == ("green", 0)


def test_a_release_to_the_unhealthy_color_aborts_at_the_first_step(release_stack: LocalStack, env, monkeypatch):
    outcome, target = run_in_process(release_stack, monkeypatch)
    assert outcome.exit_code == 1
    failed, restore = outcome.records
    assert (failed.label, failed.result) == ("1/3", "failed")
    assert "below minSuccessRate" in failed.reason and restore.result == "restored"
    assert [live for live, _ in target.after_up] == [{"green": 100}, {"green": 100}]  # step 1 refused, then the restore
    assert live_weights(env, NAMESPACE, APP) == {"green": 100} and front(release_stack)["canaryWeight"] == 0


def test_a_release_to_a_color_scaled_to_zero_by_hand_aborts(release_stack: LocalStack, env, monkeypatch):
    release_stack.cli("config", "rm", "--path", f"{PROJECT}:apps.{APP}.promotion.analysis", "--stack", STACK)  # readiness alone
    subprocess.run(["kubectl", "scale", "deployment", "front-blue", "-n", NAMESPACE, "--replicas", "0"], env=env, check=True)
    outcome, _ = run_in_process(release_stack, monkeypatch)
    subprocess.run(["kubectl", "scale", "deployment", "front-blue", "-n", NAMESPACE, "--replicas", "2"], env=env, check=True)
    assert outcome.exit_code == 1
    assert "front: routing not changed: blue has 0 of 2 replicas available" in outcome.records[0].reason
    assert live_weights(env, NAMESPACE, APP) == {"green": 100} and front(release_stack)["canaryWeight"] == 0


def test_ctrl_c_during_a_bake_restores_the_starting_routing(release_stack: LocalStack, env):
    process = cli_release(release_stack)
    read_until(process, "step 1/3: live blue 10% / green 90%, bake")
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground process group
    code, out = finish(process)
    assert code == 130, out
    assert "ABORT at step 1/3 (blue 10%): interrupted (SIGINT)" in out and "routing restored to green 100%" in out
    assert live_weights(env, NAMESPACE, APP) == {"green": 100} and front(release_stack)["canaryWeight"] == 0


def test_sigterm_during_an_up_cancels_it_and_restores(release_stack: LocalStack, env):
    process = cli_release(release_stack)
    read_until(process, "step 1/3: blue 10%: pulumi up")
    process.send_signal(signal.SIGTERM)  # CI cancelling the job: only the runner gets it, and asks pulumi to cancel
    code, out = finish(process)
    assert code == 143, out
    # Either pulumi took the SIGINT and cancelled, or the up ended first: both end in the restore.
    assert "interrupted (SIGTERM)" in out or "pulumi up was ended by SIGINT" in out
    assert "routing restored to green 100%" in out
    assert live_weights(env, NAMESPACE, APP) == {"green": 100} and front(release_stack)["canaryWeight"] == 0


def test_a_release_stopped_hard_resumes_from_the_step_it_reached(release_stack: LocalStack, env):
    process = cli_release(release_stack)
    read_until(process, "step 2/3: live blue 50% / green 50%, bake")
    os.killpg(process.pid, signal.SIGKILL)  # no restore possible: the app stays at step 2
    process.communicate(timeout=60)
    assert live_weights(env, NAMESPACE, APP) == {"blue": 50, "green": 50} and front(release_stack)["canaryWeight"] == 50
    code, out = finish(cli_release(release_stack))
    assert code == 0, out
    assert "step 2/3: blue 50%: resuming, already live (blue 50% / green 50%)" in out
    assert "step 1/3" not in out and "front: released blue, blue 100%" in out
    assert live_weights(env, NAMESPACE, APP) == {"blue": 100}
    assert (front(release_stack)["activeColor"], front(release_stack)["canaryWeight"]) == ("blue", 0)
