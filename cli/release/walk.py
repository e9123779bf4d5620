"""The walk: before the first step, the live routing must be the stack file's; each step is its guarded edit, the
--on-change hook and a real `pulumi up` (the switch gate), then a bake that re-checks the analysis."""

from __future__ import annotations

from cli.edits import changes
from cli.engine.policy_check import finding_line
from cli.release import floors
from cli.release.interfaces import Interrupted
from cli.release.record import StepRecord
from cli.release.session import Session
from cli.release.steps import Step, bake_checks, duration_text, file_weights, plan_step, split_text, weights_at
from cli.stackfile.config import load_stack


def check_live(s: Session) -> None:
    """The stack file's routing must be what `up` last applied, except for a step interrupted mid-`up`."""
    plan = s.plan
    config = load_stack(s.root, s.stack)
    live = s.target.routing(plan.app, plan.namespace)
    if live is None:
        raise changes.Refused(f"{plan.app} was never deployed on stack {s.stack}: run `pulumi up` first")
    wanted = file_weights(config, plan.app)
    if live != wanted and config.apps[plan.app].canary_weight == 0:
        raise changes.Refused(
            f"Pulumi.{s.stack}.yaml sends {split_text(wanted)} but the stack last applied {split_text(live)}: "
            f"an earlier change was not applied; apply it with `pulumi up -s {s.stack}` (the switch gate checks it) "
            "or fix the file, then run the release again"
        )


def apply(s: Session, step: Step, record: StepRecord) -> None:
    """Edit (unless resumed), hook, `up`. Raises on any failure."""
    plan = s.plan
    started = s.clock()
    title = f"step {step.label}: {plan.released} {step.what}"
    if step.resumed:
        s.touched = True
        live = s.target.routing(plan.app, plan.namespace)
        if live == weights_at(plan.active, plan.released, step.weight) and not step.cohort:
            record.live = split_text(live)
            s.progress.line(f"{title}: resuming, already live ({record.live})")
            return
        s.progress.line(f"{title}: resuming, in the stack file but not live ({split_text(live or plan.start)}): applying it")
    else:
        floor = floors.needed(s, step)
        change, advisories = s.edit(lambda config: plan_step(config, plan, step, floor))
        s.touched = True
        s.progress.line(f"{title}: {change.sentence}")
        for finding in advisories:
            s.progress.line(f"  policy advisory: {finding_line(finding)}")
        s.hook(f"release {plan.app} on {s.stack}: step {step.label}, {change.after.split_text()}")
    try:
        _up(s, title, record)
    finally:
        record.up_seconds = s.clock() - started


def _up(s: Session, title: str, record: StepRecord) -> None:
    s.raise_if_stopped()
    s.progress.status(f"{title}: pulumi up (switch gate{' + analysis' if s.plan.analysis_on else ''})")
    s.target.up(s.progress.line)
    live = s.target.routing(s.plan.app, s.plan.namespace)
    record.live = split_text(live) if live else "?"
    s.progress.line(f"{title}: applied, live {record.live}")
    s.raise_if_stopped()


def bake(s: Session, step: Step, record: StepRecord, seconds: int) -> None:
    """Hold `step` for `seconds`, re-checking the analysis (when on) at bake_checks; a signal raises Interrupted."""
    plan = s.plan
    check = s.check if plan.analysis_on else None
    checks = bake_checks(seconds) if check else []
    started = s.clock()
    while True:
        elapsed = s.clock() - started
        left = seconds - elapsed
        if check and checks and elapsed >= checks[0]:
            checks = [c for c in checks if c > elapsed]
            s.progress.status(f"step {step.label}: checking {plan.released} against the analysis")
            check(weights_at(plan.active, plan.released, step.weight), plan.start, plan.released if plan.cohorts else None)
        if left <= 0:
            break
        upcoming = (checks[0] - elapsed) if checks else left
        s.progress.status(
            f"step {step.label}: live {record.live}, bake {duration_text(left)} left"
            + (f", next analysis in {duration_text(upcoming)}" if checks else "")
        )
        signal_name = s.stop.wait(min(1.0, left, max(upcoming, 0.0)))
        if signal_name:
            raise Interrupted(signal_name)
    record.bake_seconds = s.clock() - started
