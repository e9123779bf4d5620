"""cli/release with apps.<app>.autoscaling: each step raises the released color's HPA floor to its share of the
active color's live replicas, and the flip is followed by the floor's removal (the real HPA controller:
tests/e2e/test_autoscaling.py)."""

from __future__ import annotations

import pytest

from cli.release.runner import Release
from cli.release.steps import plan_release
from cli.stackfile.config import load_stack
from tests.cli.release.test_runner import Clock, FakeStack, FakeStop, Lines, front, with_plan
from tests.stackfiles import copy_program, write_stack


def autoscaled(config, **autoscaling):
    for color in ("blue", "green"):
        config["apps"]["front"][color].pop("replicas", None)
    config["apps"]["front"]["autoscaling"] = {"minReplicas": 1, "maxReplicas": 6, **autoscaling}
    return config


class FloorsSeen(FakeStack):
    """The fake stack, also recording the released color's HPA floor the stack file has at each `up`."""

    def __init__(self, project, clock, running):
        super().__init__(project, clock)
        self.running, self.floors = running, []

    def up(self, say):
        autoscaling = front(self.project).autoscaling
        self.floors.append(autoscaling.floors.get("green") if autoscaling else None)
        super().up(say)


@pytest.fixture
def project(tmp_path, config):
    copy_program(tmp_path)
    write_stack(tmp_path, "stg", with_plan(autoscaled(config)))
    return tmp_path


def run(project, running):
    clock = Clock()
    stack = FloorsSeen(project, clock, running)
    progress = Lines()
    runner = Release(project, "stg", plan_release(load_stack(project, "stg"), "front"), stack, progress, FakeStop(clock), clock=clock)
    return runner.run(), stack, progress


def test_each_step_raises_the_floor_to_its_share_and_the_flip_is_followed_by_its_removal(project):
    outcome, stack, progress = run(project, {"blue": 4, "green": 1})
    assert outcome.exit_code == 0, "\n".join(progress.lines)
    # 10% of 4 needs 1 (the floor already), 50% needs 2, the flip 4; then the floor's own up.
    assert stack.floors == [None, 2, 4, None]
    assert stack.applied == [{"blue": 90, "green": 10}, {"blue": 50, "green": 50}, {"blue": 0, "green": 100}, {"blue": 0, "green": 100}]
    assert [(r.label, r.result) for r in outcome.records] == [("1/3", "done"), ("2/3", "done"), ("3/3", "done"), ("floor", "done")]
    assert "step 2/3: green needs 2 replicas for 50% of the load blue carries on 4" in progress.lines
    assert outcome.summary == "front: released green, green 100%; green's HPA floor is back to autoscaling.minReplicas"
    assert stack.replica_reads == ["blue", "blue", "blue"]  # before each step: the most seen counts
    text = (project / "Pulumi.stg.yaml").read_text()
    assert "floors" not in text.split("autoscaling:", 1)[1].split("promotion:", 1)[0] or "floors: {}" in text


def test_a_share_the_ceiling_cannot_carry_aborts_and_restores_with_the_floor_removed(project):
    outcome, stack, _ = run(project, {"blue": 8, "green": 1})
    assert outcome.exit_code == 1
    failed = outcome.records[-2]
    assert (failed.label, failed.result) == ("3/3", "failed")
    assert "green would need 8 replicas for 100%, above apps.front.autoscaling.maxReplicas (6)" in failed.reason
    assert stack.floors == [None, 4, None]  # 10% of 8 needs 1 (the floor), 50% needs 4; the restore drops the floor
    cfg = front(project)
    assert (cfg.active_color, cfg.canary_weight) == ("blue", 0) and cfg.autoscaling is not None and cfg.autoscaling.floors == {}


def test_without_autoscaling_no_live_replicas_are_read(tmp_path, config):
    copy_program(tmp_path)
    write_stack(tmp_path, "stg", with_plan(config))
    outcome, stack, _ = run(tmp_path, {"blue": 4, "green": 1})
    assert outcome.exit_code == 0 and stack.replica_reads == [] and stack.floors == [None, None, None]
