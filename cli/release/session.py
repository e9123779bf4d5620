"""What every phase of a release shares: the stack, the plan, the seams to the world, and what happened so far."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cli.edits import changes, guarded
from cli.release.interfaces import Interrupted, Progress, Stop, Target
from cli.release.notify import Event
from cli.release.record import Outcome
from cli.release.steps import ReleasePlan, Step
from components.app.promotion import Weights
from components.config import StackConfig
from components.shared.colors import Color
from policies.guardrails.evaluate import Finding


@dataclass
class Session:
    root: Path
    stack: str
    plan: ReleasePlan
    target: Target
    progress: Progress
    stop: Stop
    check: Callable[[Weights, Weights, Color | None], object] | None = None  # (weights, previous, cohort color); raises to stop
    on_change: Callable[[str], None] | None = None
    clock: Callable[[], float] = time.monotonic
    notify: Callable[[Event], None] | None = None  # cli/release/notify.Notifier: queues, never blocks or raises
    outcome: Outcome = field(init=False)
    touched: bool = False  # anything edited or applied: an abort must restore
    load: int = 0  # autoscaled: the most replicas the active color was seen running during this release

    def __post_init__(self) -> None:
        self.outcome = Outcome(self.plan)

    def edit(self, plan_change: Callable[[StackConfig], changes.Change]) -> tuple[changes.Change, list[Finding]]:
        """The guarded edit of the stack file; a wait for another edit's lock shows as a progress line."""
        return guarded.edit(self.root, self.stack, plan_change, self.progress.line)

    def tell(self, event: str, message: str, step: Step | None = None, live: str | None = None, reason: str | None = None) -> None:
        if self.notify is None:
            return
        weight = None if step is None else "cohorts" if step.cohort else step.weight
        label = None if step is None else step.label
        self.notify(Event(event, self.stack, self.plan.app, self.plan.released, message, label, weight, live, reason))

    def hook(self, message: str) -> None:
        if self.on_change:
            self.on_change(message)

    def raise_if_stopped(self) -> None:
        signal_name = self.stop.wait(0)
        if signal_name:
            raise Interrupted(signal_name)
