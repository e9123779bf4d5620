"""Autoscaled apps: each weighted step raises the released color's HPA floor to what its share of the active
color's load needs; after the flip that raised floor goes again."""

from __future__ import annotations

from cli.edits import changes
from cli.release.hook import HookFailed
from cli.release.interfaces import UpFailed
from cli.release.record import StepRecord, first_line
from cli.release.session import Session
from cli.release.steps import FLIP, Step, floor_key, plan_floor_end
from components.app.autoscaling import share_needs


def needed(s: Session, step: Step) -> int | None:
    """Autoscaled: the replicas `step`'s share needs, from the most the active color was seen running."""
    plan = s.plan
    if not plan.autoscaled or step.cohort:
        return None
    s.load = max(s.load, s.target.live_replicas(plan.app, plan.namespace, plan.active))
    need = share_needs(step.weight, s.load)
    s.progress.line(
        f"step {step.label}: {plan.released} needs {need} replicas for {step.what} of the load {plan.active} carries on {s.load}"
    )
    return need


def end(s: Session) -> str:
    """After the flip: the released color's raised HPA floor goes (one more edit and `up`); the flip stays
    whatever happens here. The summary's tail."""
    plan = s.plan
    record = StepRecord("floor", "restore", live=plan.split(FLIP))
    started = s.clock()
    try:
        change, _ = s.edit(lambda config: plan_floor_end(config, plan))
        if not change.edits:
            return ""
        s.outcome.records.append(record)
        s.progress.line(f"floor: {floor_key(plan)} removed, {plan.released}'s HPA follows the load again")
        s.hook(f"release {plan.app} on {s.stack}: {plan.released}'s HPA floor back to autoscaling.minReplicas")
        s.progress.status("floor: pulumi up")
        s.target.up(s.progress.line)
    except (UpFailed, HookFailed, changes.Refused) as err:
        record.result, record.reason = "failed", first_line(str(err))
        return f"; its raised HPA floor stays ({record.reason}): remove {floor_key(plan)} and run `pulumi up -s {s.stack}`"
    finally:
        record.up_seconds = s.clock() - started
    record.result = "done"
    return f"; {plan.released}'s HPA floor is back to autoscaling.minReplicas"
