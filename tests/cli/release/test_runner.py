"""cli/release (steps, runner): the step plan, and the runner against a fake stack (the real one is tests/e2e/test_release.py)."""

from __future__ import annotations

import copy
import signal

import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner

from cli.__main__ import app as cli_app
from cli.edits.changes import Refused
from cli.release.hook import run_hook
from cli.release.interfaces import UpFailed
from cli.release.notify import Event
from cli.release.run import ConsoleProgress, live_weights, summary_table
from cli.release.runner import Release
from cli.release.steps import Step, bake_checks, plan_release, weights_at
from cli.stackfile.config import load_stack
from cli.stackfile.yaml_edit import edit_text
from components.app.promotion_gate import ThresholdsMissed
from components.config import parse_stack_config
from tests.conftest import PROJECT
from tests.stackfiles import copy_program, git, write_stack

START = {"blue": 100, "green": 0}
GATE_REFUSAL = "front: routing not changed: green has 0 of 3 replicas available (spec.replicas 0) after 300s"


ANALYSIS = {"prometheusUrl": "http://127.0.0.1:9090"}


def with_plan(config, steps=(10, 50, 100), bake="5s", analysis=None, **front):
    config["apps"]["front"]["promotion"] = {"steps": list(steps), "bake": bake, **({"analysis": analysis} if analysis else {})}
    config["apps"]["front"].update(front)
    return config


@pytest.fixture
def project(tmp_path, config):
    copy_program(tmp_path)  # every edit is planned and policy-checked before it is written (cli/edits.apply)
    write_stack(tmp_path, "stg", with_plan(config))
    return tmp_path


def front(project):
    return load_stack(project, "stg").apps["front"]


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeStop:
    """No signal, unless one is due: after `at` seconds on the clock (`at=0`: the next time it is asked)."""

    def __init__(self, clock, name=None, at=0.0):
        self.clock, self.name, self.at = clock, name, at

    def wait(self, seconds):
        if self.name and self.clock.now + seconds >= self.at:
            self.clock.now = max(self.clock.now, self.at)
            return self.name
        self.clock.now += seconds
        return None


class FakeStack:
    """`up` applies the stack file's routing for front (2 s each), unless told to fail at a given call."""

    def __init__(self, project, clock, live=START, fail_at=None, reason=GATE_REFUSAL, signal_during_up=None, stop=None):
        self.project, self.clock, self.live = project, clock, dict(live) if live else None
        self.fail_at, self.reason, self.ups, self.applied = fail_at, reason, 0, []
        self.signal_during_up, self.stop = signal_during_up, stop
        self.running, self.replica_reads = {"blue": 2, "green": 2}, []

    def up(self, say):
        self.ups += 1
        self.clock.now += 2
        if self.signal_during_up and self.ups == self.signal_during_up[0]:
            self.stop.name, self.stop.at = self.signal_during_up[1], self.clock.now
        if self.ups == self.fail_at:
            say("Diagnostics: ...")
            raise UpFailed(f"pulumi up failed: code: 255\n  pulumi:pulumi:Stack stg running error: {self.reason}\n  error: update failed")
        cfg = front(self.project)
        self.live = weights_at(cfg.active_color, cfg.idle_color, cfg.canary_weight)
        self.applied.append(dict(self.live))
        say(f"up {self.ups}: done")

    def routing(self, app, namespace):
        assert (app, namespace) == ("front", "app")
        return self.live

    def live_replicas(self, app, namespace, color):
        """What each color's HPA runs now (autoscaled stacks); every read is recorded."""
        assert (app, namespace) == ("front", "app")
        self.replica_reads.append(color)
        return self.running[color]


class Lines:
    def __init__(self):
        self.lines, self.statuses = [], []

    def line(self, text):
        self.lines.append(text)

    def status(self, text):
        self.statuses.append(text)


def release(project, stack=None, clock=None, stop=None, check=None, hook=None):
    clock = clock or Clock()
    stack = stack or FakeStack(project, clock)
    stop = stop or FakeStop(clock)
    plan = plan_release(load_stack(project, "stg"), "front")
    progress = Lines()
    runner = Release(project, "stg", plan, stack, progress, stop, check=check, on_change=hook, clock=clock)
    return runner.run(), stack, progress


# --- the plan ----------------------------------------------------------------------------------


def test_a_fresh_release_walks_every_step_of_the_plan(config):
    plan = plan_release(parse_stack_config(with_plan(config, steps=[10, 25, 50, 100])), "front")
    assert (plan.active, plan.released, plan.bake_seconds) == ("blue", "green", 5)
    assert plan.steps == (Step(10, "1/4"), Step(25, "2/4"), Step(50, "3/4"), Step(100, "4/4"))
    assert plan.steps[-1].flip and not plan.steps[0].flip


def test_a_release_sitting_at_a_step_holds_it_again_then_continues(config):
    plan = plan_release(parse_stack_config(with_plan(config, steps=[10, 25, 50, 100], canaryWeight=25)), "front")
    assert plan.steps == (Step(25, "2/4", resumed=True), Step(50, "3/4"), Step(100, "4/4"))


def test_a_canary_outside_the_plan_is_held_then_the_plan_continues_above_it(config):
    plan = plan_release(parse_stack_config(with_plan(config, steps=[10, 25, 50, 100], canaryWeight=30)), "front")
    assert [(s.weight, s.label, s.resumed) for s in plan.steps] == [(30, "resume", True), (50, "3/4", False), (100, "4/4", False)]


def test_the_released_color_is_the_idle_one(config):
    plan = plan_release(parse_stack_config(with_plan(config, activeColor="green")), "front")
    assert (plan.active, plan.released, plan.split(10)) == ("green", "blue", "blue 10% / green 90%")


def test_a_release_needs_a_step_plan_and_a_known_app(config):
    with pytest.raises(Refused, match=r"apps.front.promotion.steps is not set: .* e.g. \[10, 25, 50, 100\]"):
        plan_release(parse_stack_config(config), "front")
    with pytest.raises(Refused, match="unknown app 'web'; apps in this stack: front"):
        plan_release(parse_stack_config(with_plan(config)), "web")


BLUE_IMAGE = "asia-docker.pkg.dev/acme/web/front:1.4.2"


def test_a_release_would_not_walk_back_the_version_the_last_flip_left(config):
    before_flip = copy.deepcopy(with_plan(config)["apps"]["front"])
    done = parse_stack_config(with_plan(copy.deepcopy(config), activeColor="green", previousColor="blue"))
    with pytest.raises(
        Refused,
        match=rf"front: the last flip moved production from blue to green, and blue still runs {BLUE_IMAGE}: .* python -m cli rollback --stack <stack> --app front; .*change apps.front.blue.image first",
    ):
        plan_release(done, "front", before_flip)
    assert plan_release(done, "front").released == "blue", "git could not tell: no refusal"


def test_a_new_version_on_the_color_the_flip_left_is_released(config):
    before_flip = copy.deepcopy(with_plan(config)["apps"]["front"])
    new = with_plan(copy.deepcopy(config), activeColor="green", previousColor="blue")
    new["apps"]["front"]["blue"]["image"] = "asia-docker.pkg.dev/acme/web/front:1.6.0"
    assert plan_release(parse_stack_config(new), "front", before_flip).released == "blue"
    rolled_back = with_plan(copy.deepcopy(config))  # no previousColor: nothing to walk back
    assert plan_release(parse_stack_config(rolled_back), "front", before_flip).released == "green"


@pytest.mark.parametrize(("bake", "checks"), [(3, [3]), (30, [30]), (65, [30, 60, 65]), (300, list(range(30, 301, 30)))])
def test_the_analysis_is_rechecked_every_30s_and_at_the_end_of_a_bake(bake, checks):
    assert bake_checks(bake) == checks


# --- the runner --------------------------------------------------------------------------------


def test_a_healthy_release_applies_each_step_bakes_below_100_and_ends_flipped(project):
    hooks: list[str] = []
    outcome, stack, progress = release(project, hook=hooks.append)
    assert outcome.exit_code == 0
    assert stack.applied == [{"blue": 90, "green": 10}, {"blue": 50, "green": 50}, {"blue": 0, "green": 100}]
    cfg = front(project)
    assert (cfg.active_color, cfg.canary_weight, cfg.previous_color) == ("green", 0, "blue")
    assert [(r.label, r.weight, r.live, r.result) for r in outcome.records] == [
        ("1/3", 10, "blue 90% / green 10%", "done"),
        ("2/3", 50, "blue 50% / green 50%", "done"),
        ("3/3", 100, "green 100%", "done"),
    ]
    assert [r.bake_seconds for r in outcome.records] == [5, 5, 0]  # the flip ends the release: no bake
    assert all(r.up_seconds == 2 for r in outcome.records)
    assert hooks == [
        "release front on stg: step 1/3, blue 90% / green 10%",
        "release front on stg: step 2/3, blue 50% / green 50%",
        "release front on stg: step 3/3, green 100%",
    ]
    assert outcome.summary == "front: released green, green 100%"
    assert any("bake 3s left" in s for s in progress.statuses)


def test_each_edit_keeps_the_stack_files_comments(project):
    release(project)
    text = (project / "Pulumi.stg.yaml").read_text()
    assert text.startswith("# Test stack.") and "canaryWeight: 0  # idle color's share while it bakes" in text


def test_a_gate_refusal_aborts_and_restores_the_starting_routing(project):
    clock = Clock()
    outcome, stack, progress = release(project, stack=FakeStack(project, clock, fail_at=2), clock=clock)
    assert outcome.exit_code == 1
    assert stack.applied == [{"blue": 90, "green": 10}, START]  # step 1, then the restore (step 2 never applied)
    assert (front(project).active_color, front(project).canary_weight) == ("blue", 0)
    failed, restore = outcome.records[-2:]
    assert (failed.label, failed.result, failed.reason, failed.live) == ("2/3", "failed", GATE_REFUSAL, "blue 90% / green 10%")
    assert (restore.weight, restore.result, restore.live) == ("restore", "restored", "blue 100%")
    assert outcome.summary == f"front: release of green aborted at step 2/3 (green 50%): {GATE_REFUSAL}; routing restored to blue 100%"
    assert f"ABORT at step 2/3 (green 50%): {GATE_REFUSAL}" in progress.lines  # pulumi's whole output was streamed already


def test_a_refused_flip_is_rolled_back_in_the_stack_file(project):
    clock = Clock()
    outcome, stack, _ = release(project, stack=FakeStack(project, clock, fail_at=3), clock=clock)
    assert outcome.exit_code == 1 and outcome.records[-2].label == "3/3"
    cfg = front(project)
    assert (cfg.active_color, cfg.canary_weight, cfg.previous_color) == ("blue", 0, None)
    assert stack.live == START


def test_metrics_going_bad_during_a_bake_abort_the_release(project, config):
    write_stack(project, "stg", with_plan(config, analysis=ANALYSIS))
    calls = []

    def check(weights, previous, cohort):
        calls.append((weights, previous))
        if weights["green"] == 50:
            raise ThresholdsMissed(
                "promotion gate ...\nFAILED: promotion gate missed thresholds (green: success rate 80.00% is below minSuccessRate 99.00%)"
            )

    outcome, stack, _ = release(project, check=check)
    assert calls == [({"blue": 90, "green": 10}, START), ({"blue": 50, "green": 50}, START)]  # bake 5s: one check, at its end
    assert outcome.exit_code == 1 and outcome.records[-2].reason.startswith("FAILED: promotion gate missed thresholds (green")
    assert stack.live == START and front(project).canary_weight == 0


def test_a_release_without_analysis_only_holds(project, config):
    calls = []
    write_stack(project, "stg", with_plan(config, bake="65s"))
    release(project, check=lambda w, p, c: calls.append(w))
    assert calls == []  # the runner was given a check, but the app has no promotion.analysis


def test_a_long_bake_rechecks_the_analysis_every_30s(project, config):
    write_stack(project, "stg", with_plan(config, steps=[10, 100], bake="65s", analysis=ANALYSIS))
    clock = Clock()
    seen = []
    release(project, clock=clock, check=lambda w, p, c: seen.append(clock.now))
    assert seen == [2 + 30, 2 + 60, 2 + 65]  # after step 1's up (2 s)


@pytest.mark.parametrize(("name", "code"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signal_during_a_bake_restores_and_exits_with_the_signals_code(project, name, code):
    clock = Clock()
    outcome, stack, _ = release(project, clock=clock, stop=FakeStop(clock, name, at=9))  # in step 2's bake
    assert outcome.exit_code == code
    assert [r.result for r in outcome.records] == ["done", "interrupted", "restored"]
    assert outcome.records[1].reason == f"interrupted ({name})"
    assert stack.live == START and front(project).canary_weight == 0


def test_a_signal_during_an_up_restores_once_the_up_has_ended(project):
    clock = Clock()
    stop = FakeStop(clock)
    stack = FakeStack(project, clock, signal_during_up=(2, "SIGTERM"), stop=stop)
    outcome, _, _ = release(project, stack=stack, clock=clock, stop=stop)
    assert outcome.exit_code == 143 and outcome.records[1].result == "interrupted"
    assert stack.applied == [{"blue": 90, "green": 10}, {"blue": 50, "green": 50}, START]


def test_an_up_cancelled_by_the_signal_counts_as_the_interruption(project):
    clock = Clock()
    stop = FakeStop(clock)
    stack = FakeStack(project, clock, fail_at=2, reason="pulumi up was ended by SIGINT", signal_during_up=(2, "SIGTERM"), stop=stop)
    outcome, _, _ = release(project, stack=stack, clock=clock, stop=stop)
    assert outcome.exit_code == 143 and outcome.records[1].result == "interrupted"
    assert stack.live == START


def test_a_rerun_after_a_hard_stop_continues_from_the_step_it_reached(project, config):
    write_stack(project, "stg", with_plan(config, canaryWeight=50))
    clock = Clock()
    stack = FakeStack(project, clock, live={"blue": 50, "green": 50})
    outcome, _, progress = release(project, stack=stack, clock=clock)
    assert outcome.exit_code == 0
    assert stack.applied == [{"blue": 0, "green": 100}]  # 50% was live: held again, then only the flip
    assert [(r.label, r.result, r.bake_seconds) for r in outcome.records] == [("2/3", "done", 5), ("3/3", "done", 0)]
    assert "step 2/3: green 50%: resuming, already live (blue 50% / green 50%)" in progress.lines


def test_a_step_interrupted_mid_up_is_applied_first_when_the_release_resumes(project, config):
    write_stack(project, "stg", with_plan(config, canaryWeight=50))
    clock = Clock()
    stack = FakeStack(project, clock, live={"blue": 90, "green": 10})
    outcome, _, _ = release(project, stack=stack, clock=clock)
    assert outcome.exit_code == 0 and stack.applied == [{"blue": 50, "green": 50}, {"blue": 0, "green": 100}]


def test_a_resumed_step_that_fails_restores_the_start(project, config):
    write_stack(project, "stg", with_plan(config, canaryWeight=50))
    clock = Clock()
    stack = FakeStack(project, clock, live={"blue": 90, "green": 10}, fail_at=1)
    outcome, _, _ = release(project, stack=stack, clock=clock)
    assert outcome.exit_code == 1 and stack.live == START and front(project).canary_weight == 0


def test_a_stack_file_ahead_of_the_live_routing_is_refused_before_anything_changes(project, config):
    write_stack(project, "stg", with_plan(config, activeColor="green"))  # a flip written but never applied
    before = (project / "Pulumi.stg.yaml").read_text()
    outcome, stack, _ = release(project)
    assert outcome.exit_code == 1 and stack.ups == 0
    assert "sends green 100% but the stack last applied blue 100%: an earlier change was not applied" in outcome.summary
    assert outcome.summary.endswith("nothing was changed")
    assert (project / "Pulumi.stg.yaml").read_text() == before


def test_an_app_never_deployed_is_refused(project):
    clock = Clock()
    outcome, stack, _ = release(project, stack=FakeStack(project, clock, live=None), clock=clock)
    assert outcome.exit_code == 1 and stack.ups == 0 and "was never deployed on stack stg" in outcome.summary


def test_an_idle_color_with_no_pods_is_refused_at_the_first_edit(project, config):
    write_stack(project, "stg", with_plan(config, green={"image": "r/front:2", "replicas": 0}))
    outcome, stack, _ = release(project)
    assert outcome.exit_code == 1 and stack.ups == 0
    assert "apps.front.green.replicas is 0" in outcome.summary and outcome.summary.endswith("nothing was changed")


def test_a_failing_hook_aborts_before_the_steps_up(project):
    def hook(message):
        from cli.release.hook import HookFailed

        raise HookFailed("--on-change exited 1: git push: rejected")

    outcome, stack, _ = release(project, hook=hook)
    assert outcome.exit_code == 1 and stack.applied == [START]  # only the restore's up
    assert outcome.records[0].reason == "--on-change exited 1: git push: rejected"
    assert "commit Pulumi.stg.yaml by hand" in outcome.records[-1].reason  # the restore's commit failed too
    assert front(project).canary_weight == 0


def test_the_hook_runs_in_a_shell_with_the_step_in_its_environment(tmp_path):
    out = tmp_path / "seen"
    run_hook(f'echo "$RELEASE_MESSAGE|$RELEASE_STACK_FILE|$PWD" > {out}', "release front on stg: step 1/3", tmp_path / "Pulumi.stg.yaml")
    assert out.read_text() == f"release front on stg: step 1/3|{tmp_path / 'Pulumi.stg.yaml'}|{tmp_path}\n"  # in the project dir
    from cli.release.hook import HookFailed

    with pytest.raises(HookFailed, match=r"--on-change exited 3: .*nope"):
        run_hook("echo nope >&2; exit 3", "m", out)


# --- wiring and output -------------------------------------------------------------------------


def test_live_weights_come_from_the_virtual_service_in_the_stack_state():
    def vs(name, namespace, route):
        return {
            "type": "kubernetes:networking.istio.io/v1:VirtualService",
            "outputs": {"metadata": {"name": name, "namespace": namespace}, "spec": {"http": [{"route": [{}]}, {"route": route}]}},
        }

    split = [{"destination": {"subset": "blue"}, "weight": 75}, {"destination": {"subset": "green"}, "weight": 25}]
    state = {"resources": [{"type": "pulumi:pulumi:Stack"}, vs("front", "other", []), vs("front", "app", split)]}
    assert live_weights(state, "front", "app") == {"blue": 75, "green": 25}
    only = {"resources": [vs("front", "app", [{"destination": {"subset": "green"}}])]}
    assert live_weights(only, "front", "app") == {"blue": 0, "green": 100}  # a lone destination has no weight
    assert live_weights(state, "api", "api") is None


def test_a_log_gets_one_status_line_per_phase_not_one_per_second():
    console = Console(record=True, width=200, force_terminal=False)
    progress = ConsoleProgress(console)
    for left in (5, 4, 3):
        progress.status(f"step 1/3: live blue 90% / green 10%, bake {left}s left")
    progress.status("step 2/3: green 50%: pulumi up (switch gate)")
    assert console.export_text().splitlines() == [
        "step 1/3: live blue 90% / green 10%, bake 5s left",
        "step 2/3: green 50%: pulumi up (switch gate)",
    ]


def test_the_summary_table_has_a_row_per_step_and_the_restore(project):
    clock = Clock()
    outcome, _, _ = release(project, stack=FakeStack(project, clock, fail_at=2), clock=clock)
    console = Console(record=True, width=200)
    console.print(summary_table(outcome, "stg"))
    text = console.export_text()
    assert "release front on stg: green from blue 100%" in text
    for row in (
        ("1/3", "10%", "blue 90% / green 10%", "done", "2.0 up + 5 bake"),
        ("2/3", "50%", "failed"),
        ("abort", "restore", "blue 100%", "restored"),
    ):
        assert any(all(cell in line for cell in row) for line in text.splitlines()), row


def run_cli(project, *args, env=None):
    return CliRunner().invoke(cli_app, ["release", "--stack", "stg", "--app", "front", "--root", str(project), *args], env=env)


def test_cli_without_the_pulumi_cli_says_so(project, tmp_path):
    result = run_cli(project, env={"PATH": str(tmp_path)})
    assert result.exit_code == 1 and "refused: the pulumi CLI is not on PATH" in result.output, result.output


def test_cli_refuses_an_app_without_a_step_plan(project, config):
    del config["apps"]["front"]["promotion"]
    write_stack(project, "stg", config)
    result = run_cli(project)
    assert result.exit_code == 1 and "apps.front.promotion.steps is not set" in result.output


def test_cli_dry_run_prints_each_steps_edit_and_plan_diff_and_writes_nothing(project):
    before = (project / "Pulumi.stg.yaml").read_text()
    result = run_cli(project, "--dry-run")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "dry run: release front on stg, 3 steps from blue 100%; nothing is written or applied" in out
    assert out.index("step 1/3: green 10%") < out.index("step 2/3: green 50%") < out.index("step 3/3: green 100% (flip)")
    assert "Pulumi.stg.yaml: apps.front.canaryWeight = 10" in out
    assert "front: blue 90% / green 10% -> blue 50% / green 50%" in out  # each step against the one before
    assert "front: blue 50% / green 50% -> green 100%" in out and "Pulumi.stg.yaml: apps.front.activeColor = green" in out
    assert "plan diff for stack" not in out and "Traceback" not in out
    assert (project / "Pulumi.stg.yaml").read_text() == before
    assert yaml.safe_load(before)["config"][f"{PROJECT}:apps"]["front"]["canaryWeight"] == 0


def test_cli_refuses_to_release_again_after_a_completed_release(project, tmp_path):
    """The flip of the last step is committed (as the release job does); a re-run must not walk blue back in."""
    git(project, "init", "-q")
    git(project, "add", "Pulumi.stg.yaml")
    git(project, "commit", "-qm", "blue serves")
    path = project / "Pulumi.stg.yaml"
    path.write_text(edit_text(path.read_text(), PROJECT, {"apps.front.activeColor": "green", "apps.front.previousColor": "blue"}))
    git(project, "commit", "-qam", "release front: step 3/3 green 100% (flip)")
    for args in ([], ["--dry-run"]):
        result = run_cli(project, *args, env={"PATH": f"{tmp_path}:/usr/bin:/bin"})  # no pulumi: refused before any up
        assert result.exit_code == 1, result.output
        assert result.output.startswith("refused: front: the last flip moved production from blue to green"), result.output
    path.write_text(path.read_text().replace("front:1.4.2", "front:1.6.0"))
    again = run_cli(project, env={"PATH": f"{tmp_path}:/usr/bin:/bin"})
    assert "refused: the pulumi CLI is not on PATH" in again.output, "past the history check: it needs the stack now"


def test_the_release_command_gives_the_signal_handlers_back(tmp_path):
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    result = CliRunner().invoke(cli_app, ["release", "--stack", "stg", "--app", "front", "--root", str(tmp_path)])
    assert result.exit_code == 1 and result.output.startswith("error: no stack file Pulumi.stg.yaml"), result.output
    assert {sig: signal.getsignal(sig) for sig in before} == before


# --- A/B cohorts as the first step (promotion.steps: [cohort, ...]) ----------------------------------

COHORTS = [{"header": {"name": "x-beta", "value": "true"}}]


def test_the_cohort_step_comes_first_and_is_skipped_once_a_canary_runs(config):
    plan = plan_release(parse_stack_config(with_plan(config, steps=["cohort", 50, 100], cohorts=COHORTS)), "front")
    assert plan.cohorts and plan.steps == (Step(0, "1/3", cohort=True), Step(50, "2/3"), Step(100, "3/3"))
    resumed = plan_release(parse_stack_config(with_plan(config, steps=["cohort", 50, 100], cohorts=COHORTS, cohortsActive=True)), "front")
    assert resumed.steps[0] == Step(0, "1/3", resumed=True, cohort=True)
    later = plan_release(parse_stack_config(with_plan(config, steps=["cohort", 50, 100], cohorts=COHORTS, canaryWeight=50)), "front")
    assert later.steps == (Step(50, "2/3", resumed=True), Step(100, "3/3"))


def test_a_cohort_release_turns_the_cohorts_on_gates_them_and_the_flip_ends_them(project, config):
    write_stack(project, "stg", with_plan(config, steps=["cohort", 50, 100], analysis=ANALYSIS, cohorts=COHORTS))
    calls = []
    outcome, _, progress = release(project, check=lambda w, p, c: calls.append((w, c)))
    assert outcome.exit_code == 0, progress.lines
    assert "step 1/3: green cohorts: front: blue 100% -> blue 100% (cohorts: off -> green)" in progress.lines
    # The bake of the cohort step checks green although its default share is still 0.
    assert calls[0] == (START, "green") and calls[1] == ({"blue": 50, "green": 50}, "green")
    after = front(project)
    assert after.active_color == "green" and not after.cohorts_active and after.cohorts  # definitions kept for the next release
    assert [r.row()[1] for r in outcome.records] == ["cohorts", "50%", "100%"]


def test_an_aborted_cohort_release_ends_the_cohorts_too(project, config):
    write_stack(project, "stg", with_plan(config, steps=["cohort", 50, 100], cohorts=COHORTS))
    clock = Clock()
    outcome, stack, _ = release(project, clock=clock, stack=FakeStack(project, clock, fail_at=2))
    assert outcome.exit_code == 1
    after = front(project)
    assert after.canary_weight == 0 and not after.cohorts_active and stack.live == START
    assert outcome.records[-1].result == "restored"


# --- notifications (promotion.notify; delivery itself: tests/cli/release/test_notify.py) ----------------------


def test_a_release_tells_started_each_step_and_done(project):
    events: list[Event] = []
    clock = Clock()
    stack = FakeStack(project, clock)
    plan = plan_release(load_stack(project, "stg"), "front")
    outcome = Release(project, "stg", plan, stack, Lines(), FakeStop(clock), clock=clock, notify=events.append).run()
    assert outcome.exit_code == 0
    assert [(e.event, e.step, e.weight, e.live) for e in events] == [
        ("started", None, None, None),
        ("step", "1/3", 10, "blue 90% / green 10%"),
        ("step", "2/3", 50, "blue 50% / green 50%"),
        ("step", "3/3", 100, "green 100%"),
        ("done", None, None, "green 100%"),
    ]
    assert events[0].message == "release of green started from blue 100%, steps 10%, 50%, 100%"


def test_an_aborted_release_tells_abort_with_the_reason_then_revert(project):
    events: list[Event] = []
    clock = Clock()
    stack = FakeStack(project, clock, fail_at=2)
    plan = plan_release(load_stack(project, "stg"), "front")
    Release(project, "stg", plan, stack, Lines(), FakeStop(clock), clock=clock, notify=events.append).run()
    assert [e.event for e in events] == ["started", "step", "abort", "revert"]
    assert events[2].reason == GATE_REFUSAL and events[2].message == "release of green aborted at step 2/3 (green 50%)"
    assert events[3].message == "front: routing restored to blue 100%" and events[3].live == "blue 100%"


# --- the post-flip watch (promotion.postFlip) ---------------------------------------------------------


def with_watch(config, bake="90s"):
    with_plan(config, analysis={**ANALYSIS, "window": "1m"})
    config["apps"]["front"]["promotion"]["postFlip"] = {"bake": bake}
    return config


def test_a_healthy_color_is_kept_after_the_watch(project, config):
    write_stack(project, "stg", with_watch(config))
    calls = []
    outcome, _, progress = release(project, check=lambda w, p, c: calls.append((w, p)))
    assert outcome.exit_code == 0, progress.lines
    # 90 s: re-checked at 30, 60 and 90 s, each time green at 100% against the starting routing.
    assert calls[-3:] == [({"blue": 0, "green": 100}, START)] * 3
    assert [r.row()[:4] for r in outcome.records][-1] == ("watch", "post-flip", "green 100%", "done")
    assert front(project).active_color == "green" and front(project).blue.replicas == 3  # blue keeps its pods
    assert outcome.summary.endswith("healthy through the post-flip watch; blue keeps its pods until you scale it down")


def test_a_color_going_bad_after_the_flip_is_flipped_back(project, config):
    write_stack(project, "stg", with_watch(config))
    clock = Clock()

    def check(weights, previous, cohort):
        if weights["green"] == 100 and clock.now > 40:
            raise ThresholdsMissed(
                "gate ...\nFAILED: promotion gate missed thresholds (green: p99 latency 4100 ms is above maxP99Ms 500 ms)"
            )

    outcome, stack, _ = release(project, clock=clock, check=check)
    assert outcome.exit_code == 1
    assert stack.live == START and front(project).active_color == "blue" and front(project).previous_color is None
    watch, restore = outcome.records[-2:]
    assert (watch.label, watch.result) == ("watch", "failed") and watch.reason.startswith(
        "FAILED: promotion gate missed thresholds (green: p99"
    )
    assert (restore.label, restore.result, restore.live) == ("abort", "restored", "blue 100%")
    assert "aborted at step watch (green post-flip): FAILED: promotion gate missed thresholds" in outcome.summary


@pytest.mark.parametrize(("name", "code"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signal_during_the_watch_leaves_the_flip_in_place(project, config, name, code):
    write_stack(project, "stg", with_watch(config))
    clock = Clock()
    events: list[Event] = []
    stack = FakeStack(project, clock)
    plan = plan_release(load_stack(project, "stg"), "front")
    # Three ups of 2 s and two bakes of 5 s: 16 s in, then 20 s into the watch.
    runner = Release(
        project, "stg", plan, stack, Lines(), FakeStop(clock, name, at=36), check=lambda w, p, c: None, clock=clock, notify=events.append
    )
    outcome = runner.run()
    assert outcome.exit_code == code and stack.ups == 3  # no restore
    assert front(project).active_color == "green" and stack.live == {"blue": 0, "green": 100}
    assert outcome.summary == (
        f"front: {name} during the post-flip watch: the flip to green stays in place (not reverted); to undo it: make rollback APP=front"
    )
    assert outcome.records[-1].result == "interrupted" and events[-1].event == "abort"


def test_post_flip_needs_analysis(config):
    with_plan(config)
    config["apps"]["front"]["promotion"]["postFlip"] = {"bake": "10m"}
    with pytest.raises(Exception) as err:
        parse_stack_config(config)
    assert (
        str(err.value)
        == "apps.front.promotion.postFlip: needs promotion.analysis: without metrics there is nothing to watch after the flip"
    )
