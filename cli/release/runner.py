"""The runner: drive a ReleasePlan against a Target, phase by phase, and return the Outcome."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from cli.edits import changes
from cli.release import abort, floors, walk, watch
from cli.release.hook import HookFailed
from cli.release.interfaces import Interrupted, Progress, Stop, Target, UpFailed
from cli.release.notify import Event
from cli.release.record import Outcome, StepRecord
from cli.release.session import Session
from cli.release.steps import FLIP, ReleasePlan
from components.app.promotion import Weights
from components.app.promotion_gate import GateRefused
from components.shared.colors import Color


class Release:
    """Drive a ReleasePlan against a Target; `run` returns the Outcome (exit code and per-step records)."""

    def __init__(
        self,
        root: Path,
        stack: str,
        plan: ReleasePlan,
        target: Target,
        progress: Progress,
        stop: Stop,
        check: Callable[[Weights, Weights, Color | None], object] | None = None,  # (weights, previous, cohort color); raises to stop
        on_change: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        notify: Callable[[Event], None] | None = None,  # cli/release/notify.Notifier: queues, never blocks or raises
    ):
        self.session = Session(root, stack, plan, target, progress, stop, check, on_change, clock, notify)

    def run(self) -> Outcome:
        s = self.session
        plan, out = s.plan, s.outcome
        try:
            walk.check_live(s)
            s.tell(
                "started", f"release of {plan.released} started from {plan.split(0)}, steps {', '.join(step.what for step in plan.steps)}"
            )
            for step in plan.steps:
                record = StepRecord(step.label, "cohorts" if step.cohort else step.weight)
                out.records.append(record)
                walk.apply(s, step, record)
                s.tell("step", f"step {step.label}: {plan.released} {step.what}, live {record.live}", step=step, live=record.live)
                if not step.flip:
                    walk.bake(s, step, record, plan.bake_seconds)
                record.result = "done"
            if plan.post_flip_seconds and plan.steps and plan.steps[-1].flip and not watch.post_flip(s, plan.steps[-1]):
                return out
        except (UpFailed, GateRefused, HookFailed, changes.Refused, Interrupted) as err:
            return abort.abort(s, err)
        out.summary = f"{plan.app}: released {plan.released}, {plan.split(FLIP)}"
        if plan.autoscaled:
            out.summary += floors.end(s)
        if plan.post_flip_seconds:
            out.summary += f", healthy through the post-flip watch; {plan.active} keeps its pods until you scale it down"
        s.tell("done", out.summary, live=plan.split(FLIP))
        return out
