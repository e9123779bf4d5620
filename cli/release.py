"""`make release STACK=<s> APP=<a>`: walk the idle color through `apps.<app>.promotion.steps`, one real `pulumi up` per step.

Stack config stays the only writer of routing: each step is the guarded edit `make canary` / `make flip` make
(cli/edits.py, comments kept), then `pulumi up`, whose switch gate checks readiness, and metrics with
`promotion.analysis`, before the VirtualService moves. Below 100 a step then holds for `promotion.bake`,
re-checking the analysis with the gate's own check (components/app/promotion_gate.py). 100 is the flip and
ends the release; with `promotion.postFlip` the analysis is watched for its bake after it, and a failure
flips back (a signal during that watch leaves the flip in place).

With `autoscaling`, each weighted step first counts the active color's live replicas (what its HPA runs) and,
when the released color's share of them (rounded up) is above its HPA floor, the step's edit also sets
`autoscaling.floors.<released>` to that number, so its HPA scales it up before the switch gate lets the share
move. After the flip (and the post-flip watch) one more edit and `up` remove that floor again.

Any failure aborts: the routing the release started from (its activeColor, canaryWeight 0) is restored
with one more edit and `up`. A release always starts from canaryWeight 0, so that start is derived from
the stack file, never stored: after a hard stop the app sits at a step and a re-run continues from it.

The stack is reached through a `Target` (cli/release_run.py: the Automation API), so the runner here is
tested against a fake one.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from components.app.autoscaling import share_needs
from components.app.config import COHORT_STEP, duration_seconds
from components.app.promotion import Weights
from components.app.promotion_gate import GateRefused
from components.config import StackConfig
from components.shared.colors import COLORS, Color

from . import edits, hints, stack_edit
from .edits import traffic_of
from .notify import Event
from .policy_check import finding_line
from .traffic import Traffic

FLIP = 100
CHECK_EVERY_SECONDS = 30  # analysis re-checks during a bake: at most this far apart, and at its end
EXIT_ABORTED = 1
EXIT_SIGNAL = {"SIGINT": 130, "SIGTERM": 143}


class UpFailed(Exception):
    """`pulumi up` failed (the switch gate refused, the engine failed, or it was cancelled); the message says why."""


class Target(Protocol):
    """The stack a release drives (cli/release_run.py: the Automation API; tests: a fake)."""

    def up(self, say: Callable[[str], None]) -> None:
        """Run `pulumi up` with the stack file as it is now; raise UpFailed."""

    def routing(self, app: str, namespace: str) -> Weights | None:
        """The default-route weights `up` last applied (None: the app was never deployed)."""

    def live_replicas(self, app: str, namespace: str, color: Color) -> int:
        """`color`'s Deployment's spec.replicas now (what its HPA runs); raise UpFailed when it cannot be read."""


class Progress(Protocol):
    def line(self, text: str) -> None:
        """A line that stays (a step applied, the gate's report, pulumi's output)."""

    def status(self, text: str) -> None:
        """The current state, replaced by the next one (waiting for up, time left in a bake)."""


class Interrupted(Exception):
    def __init__(self, signal_name: str):
        super().__init__(f"interrupted ({signal_name})")
        self.signal_name = signal_name


class Stop(Protocol):
    """Set by a signal handler; a release checks it between and during steps."""

    def wait(self, seconds: float) -> str | None:
        """Sleep up to `seconds`; the signal's name as soon as one arrived, else None."""


# --- the plan (pure) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    weight: int  # the released color's share after this step; 100 = the flip
    label: str  # "2/4", or "resume" for a weight outside the plan
    resumed: bool = False  # already in the stack file: hold it again (its bake may have been cut short)
    cohort: bool = False  # the A/B cohorts step (`cohort` in promotion.steps): weight stays 0

    @property
    def flip(self) -> bool:
        return self.weight == FLIP

    @property
    def what(self) -> str:
        """`cohorts` or `10%`: what the released color gets at this step."""
        return "cohorts" if self.cohort else f"{self.weight}%"


@dataclass(frozen=True)
class ReleasePlan:
    app: str
    namespace: str
    active: Color  # serves before the release; what an abort restores (canaryWeight 0)
    released: Color  # the idle color taking traffic step by step
    steps: tuple[Step, ...]
    bake_seconds: int
    analysis_on: bool
    cohorts: bool = False  # the plan starts with the A/B cohorts: they go to the released color until the flip
    post_flip_seconds: int = 0  # promotion.postFlip.bake: watch this long after the flip, flip back on failure
    autoscaled: bool = False  # apps.<app>.autoscaling: each step raises the released color's HPA floor to its share

    @property
    def start(self) -> Weights:
        return {self.active: 100, self.released: 0}

    def split(self, weight: int) -> str:
        return split_text(weights_at(self.active, self.released, weight))


def weights_at(active: Color, released: Color, weight: int) -> Weights:
    return {color: {active: 100 - weight, released: weight}[color] for color in COLORS}


def split_text(weights: Weights) -> str:
    return Traffic(tuple((color, share) for color, share in weights.items() if share)).split_text()


def plan_release(config: StackConfig, app: str, before_flip: Mapping[str, Any] | None = None) -> ReleasePlan:
    """The steps still to walk, from the stack file's routing: the plan's weights above the current canaryWeight.

    `before_flip` is apps.<app> as it was before its last flip (cli/history.py): when the idle color is the one
    that flip left and still runs the same image, a release would walk that old version back: refused.
    """
    cfg = edits.app_config(config, app)
    idle, image = cfg.idle_color, cfg.color(cfg.idle_color).image
    left = (before_flip or {}).get(idle)
    if cfg.previous_color == idle and isinstance(left, Mapping) and image is not None and left.get("image") == str(image):
        raise edits.Refused(
            f"{app}: the last flip moved production from {idle} to {cfg.active_color}, and {idle} still runs {image}: "
            f"releasing it would walk that version back. To undo the flip at once: {hints.command('rollback', app=app)}; "
            f"to release a new version, change apps.{app}.{idle}.image first"
        )
    plan = cfg.promotion.steps
    if plan is None:
        raise edits.Refused(
            f"apps.{app}.promotion.steps is not set: add the idle color's weights to walk, e.g. [10, 25, 50, 100] (100 is the flip)"
        )
    current = cfg.canary_weight
    label = {weight: f"{i}/{len(plan)}" for i, weight in enumerate(plan, 1)}
    cohorts = plan[0] == COHORT_STEP
    steps = [Step(0, label[COHORT_STEP], resumed=cfg.cohorts_active, cohort=True)] if cohorts and not current else []
    steps += [Step(current, label.get(current, "resume"), resumed=True)] if current else []
    steps += [Step(weight, label[weight]) for weight in plan if isinstance(weight, int) and weight > current]
    return ReleasePlan(
        app,
        cfg.namespace,
        cfg.active_color,
        cfg.idle_color,
        tuple(steps),
        duration_seconds(cfg.promotion.bake),
        cfg.promotion.analysis is not None,
        cohorts,
        duration_seconds(cfg.promotion.post_flip.bake) if cfg.promotion.post_flip else 0,
        cfg.autoscaling is not None,
    )


def floor_key(plan: ReleasePlan) -> str:
    """The stack file key of the released color's raised HPA floor."""
    return f"apps.{plan.app}.autoscaling.floors.{plan.released}"


def plan_step(config: StackConfig, plan: ReleasePlan, step: Step, floor: int | None = None) -> edits.Change:
    """The guarded edit of one step: `make canary WEIGHT=<w>`, or `make flip TO=<released>` for 100; with `floor`
    (autoscaled: the replicas the step's share needs) also the released color's HPA floor, when it is lower."""
    if step.flip:
        change = edits.plan_flip(config, plan.app, plan.released)
    elif step.cohort:
        change = edits.plan_cohorts(config, plan.app, True)
    else:
        change = edits.plan_canary(config, plan.app, step.weight)
    autoscaling = config.apps[plan.app].autoscaling
    if floor is None or autoscaling is None or floor <= autoscaling.floor(plan.released):
        return change
    if floor > autoscaling.max_replicas:
        raise edits.Refused(
            f"{plan.app}: {plan.released} would need {floor} replicas for {step.what}, above apps.{plan.app}.autoscaling.maxReplicas "
            f"({autoscaling.max_replicas}): it cannot carry that share of the active color's load; raise maxReplicas"
        )
    return dataclasses.replace(change, edits={**change.edits, floor_key(plan): floor})


def plan_floor_end(config: StackConfig, plan: ReleasePlan) -> edits.Change:
    """After the flip (or an abort): the released color's raised HPA floor goes, its HPA follows the load again."""
    cfg = edits.app_config(config, plan.app)
    floors = cfg.autoscaling.floors if cfg.autoscaling is not None else {}
    # The whole `floors` map when it has no other color: a map left empty would be rewritten around.
    key = floor_key(plan) if set(floors) - {plan.released} else floor_key(plan).rsplit(".", 1)[0]
    return edits.Change(plan.app, {key: stack_edit.REMOVE} if plan.released in floors else {}, traffic_of(cfg), traffic_of(cfg))


def plan_restore(config: StackConfig, plan: ReleasePlan) -> edits.Change:
    """Back to where the release started: a written flip is rolled back, a canary ends, a raised floor goes."""
    cfg = config.apps[plan.app]
    change = edits.plan_rollback(config, plan.app) if cfg.active_color != plan.active else edits.plan_canary_end(config, plan.app)
    return dataclasses.replace(change, edits={**change.edits, **plan_floor_end(config, plan).edits})


def bake_checks(bake_seconds: int, every: int = CHECK_EVERY_SECONDS) -> list[int]:
    """Seconds into a bake at which the analysis is re-checked: every `every` seconds, and at its end."""
    return [*range(every, bake_seconds, every), bake_seconds]


def duration_text(seconds: float) -> str:
    whole = max(0, round(seconds))
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"


# --- the record --------------------------------------------------------------------------------

COLUMNS = ("step", "weight", "live", "result", "seconds", "reason")


@dataclass
class StepRecord:
    label: str
    weight: int | str  # "restore" for the abort's own step
    live: str = "?"
    result: str = "pending"
    reason: str = ""
    up_seconds: float = 0.0  # the edit, the --on-change hook and `pulumi up`: what the step costs beyond its bake
    bake_seconds: float = 0.0

    def row(self) -> tuple[str, ...]:
        seconds = f"{self.up_seconds:.1f} up" + (f" + {self.bake_seconds:.0f} bake" if self.bake_seconds else "")
        weight = f"{self.weight}%" if isinstance(self.weight, int) else self.weight
        return (self.label, weight, self.live, self.result, seconds, self.reason)


@dataclass
class Outcome:
    plan: ReleasePlan
    records: list[StepRecord] = field(default_factory=list)
    exit_code: int = 0
    summary: str = ""


class HookFailed(Exception):
    pass


def run_hook(command: str, message: str, stack_file: Path) -> None:
    """Run the --on-change command (e.g. commit and push the stack file) in the project directory, with the
    step in its environment."""
    env = {**os.environ, "RELEASE_MESSAGE": message, "RELEASE_STACK_FILE": str(stack_file)}
    done = subprocess.run(["sh", "-c", command], cwd=stack_file.parent, env=env, capture_output=True, text=True)
    if done.returncode:
        output = (done.stdout + done.stderr).strip()[-500:]
        raise HookFailed(f"--on-change exited {done.returncode}: {shlex.quote(command)}: {output}")


# --- the runner --------------------------------------------------------------------------------


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
        notify: Callable[[Event], None] | None = None,  # cli/notify.Notifier: queues, never blocks or raises
    ):
        self.root, self.stack, self.plan, self.target = root, stack, plan, target
        self.progress, self.stop, self.check, self.on_change, self.clock = progress, stop, check, on_change, clock
        self.notify = notify
        self.outcome = Outcome(plan)
        self.touched = False  # anything edited or applied: an abort must restore
        self.load = 0  # autoscaled: the most replicas the active color was seen running during this release

    # -- steps

    def run(self) -> Outcome:
        plan, out = self.plan, self.outcome
        try:
            self._check_live()
            self._tell("started", f"release of {plan.released} started from {plan.split(0)}, steps {', '.join(s.what for s in plan.steps)}")
            for step in plan.steps:
                record = StepRecord(step.label, "cohorts" if step.cohort else step.weight)
                out.records.append(record)
                self._apply(step, record)
                self._tell("step", f"step {step.label}: {plan.released} {step.what}, live {record.live}", step=step, live=record.live)
                if not step.flip:
                    self._bake(step, record, plan.bake_seconds)
                record.result = "done"
            if plan.post_flip_seconds and plan.steps and plan.steps[-1].flip and not self._watch(plan.steps[-1]):
                return out
        except (UpFailed, GateRefused, HookFailed, edits.Refused, Interrupted) as err:
            return self._abort(err)
        out.summary = f"{plan.app}: released {plan.released}, {plan.split(FLIP)}"
        if plan.autoscaled:
            out.summary += self._end_floor()
        if plan.post_flip_seconds:
            out.summary += f", healthy through the post-flip watch; {plan.active} keeps its pods until you scale it down"
        self._tell("done", out.summary, live=plan.split(FLIP))
        return out

    def _tell(self, event: str, message: str, step: Step | None = None, live: str | None = None, reason: str | None = None) -> None:
        if self.notify is None:
            return
        weight = None if step is None else "cohorts" if step.cohort else step.weight
        label = None if step is None else step.label
        self.notify(Event(event, self.stack, self.plan.app, self.plan.released, message, label, weight, live, reason))

    def _check_live(self) -> None:
        """The stack file's routing must be what `up` last applied, except for a step interrupted mid-`up`."""
        plan = self.plan
        config = edits.load_stack(self.root, self.stack)
        live = self.target.routing(plan.app, plan.namespace)
        if live is None:
            raise edits.Refused(f"{plan.app} was never deployed on stack {self.stack}: run `pulumi up` first")
        wanted = _file_weights(config, plan.app)
        if live != wanted and config.apps[plan.app].canary_weight == 0:
            raise edits.Refused(
                f"Pulumi.{self.stack}.yaml sends {split_text(wanted)} but the stack last applied {split_text(live)}: "
                f"an earlier change was not applied; apply it with `pulumi up -s {self.stack}` (the switch gate checks it) "
                "or fix the file, then run the release again"
            )

    def _apply(self, step: Step, record: StepRecord) -> None:
        """Edit (unless resumed), hook, `up`. Raises on any failure."""
        plan = self.plan
        started = self.clock()
        title = f"step {step.label}: {plan.released} {step.what}"
        if step.resumed:
            self.touched = True
            live = self.target.routing(plan.app, plan.namespace)
            if live == weights_at(plan.active, plan.released, step.weight) and not step.cohort:
                record.live = split_text(live)
                self.progress.line(f"{title}: resuming, already live ({record.live})")
                return
            self.progress.line(f"{title}: resuming, in the stack file but not live ({split_text(live or plan.start)}): applying it")
        else:
            floor = self._floor(step)
            change, advisories = edits.edit(self.root, self.stack, lambda config: plan_step(config, plan, step, floor), self.progress.line)
            self.touched = True
            self.progress.line(f"{title}: {change.sentence}")
            for finding in advisories:
                self.progress.line(f"  policy advisory: {finding_line(finding)}")
            self._hook(f"release {plan.app} on {self.stack}: step {step.label}, {change.after.split_text()}")
        try:
            self._up(title, record)
        finally:
            record.up_seconds = self.clock() - started

    def _floor(self, step: Step) -> int | None:
        """Autoscaled: the replicas `step`'s share needs, from the most the active color was seen running."""
        plan = self.plan
        if not plan.autoscaled or step.cohort:
            return None
        self.load = max(self.load, self.target.live_replicas(plan.app, plan.namespace, plan.active))
        need = share_needs(step.weight, self.load)
        self.progress.line(
            f"step {step.label}: {plan.released} needs {need} replicas for {step.what} of the load {plan.active} carries on {self.load}"
        )
        return need

    def _end_floor(self) -> str:
        """After the flip: the released color's raised HPA floor goes (one more edit and `up`); the flip stays
        whatever happens here. The summary's tail."""
        plan = self.plan
        record = StepRecord("floor", "restore", live=plan.split(FLIP))
        started = self.clock()
        try:
            change, _ = edits.edit(self.root, self.stack, lambda config: plan_floor_end(config, plan), self.progress.line)
            if not change.edits:
                return ""
            self.outcome.records.append(record)
            self.progress.line(f"floor: {floor_key(plan)} removed, {plan.released}'s HPA follows the load again")
            self._hook(f"release {plan.app} on {self.stack}: {plan.released}'s HPA floor back to autoscaling.minReplicas")
            self.progress.status("floor: pulumi up")
            self.target.up(self.progress.line)
        except (UpFailed, HookFailed, edits.Refused) as err:
            record.result, record.reason = "failed", _first_line(str(err))
            return f"; its raised HPA floor stays ({record.reason}): remove {floor_key(plan)} and run `pulumi up -s {self.stack}`"
        finally:
            record.up_seconds = self.clock() - started
        record.result = "done"
        return f"; {plan.released}'s HPA floor is back to autoscaling.minReplicas"

    def _up(self, title: str, record: StepRecord) -> None:
        self._raise_if_stopped()
        self.progress.status(f"{title}: pulumi up (switch gate{' + analysis' if self.plan.analysis_on else ''})")
        self.target.up(self.progress.line)
        live = self.target.routing(self.plan.app, self.plan.namespace)
        record.live = split_text(live) if live else "?"
        self.progress.line(f"{title}: applied, live {record.live}")
        self._raise_if_stopped()

    def _watch(self, flip: Step) -> bool:
        """After the flip: re-check the analysis through promotion.postFlip.bake. A failure raises (the abort flips
        back); a signal leaves the flip in place: False, with the outcome set."""
        plan, out = self.plan, self.outcome
        record = StepRecord("watch", "post-flip", live=plan.split(FLIP))
        out.records.append(record)
        self.progress.line(
            f"post-flip watch: {plan.released} 100% for {duration_text(plan.post_flip_seconds)}, {plan.active} kept for a revert"
        )
        try:
            self._bake(flip, record, plan.post_flip_seconds)
        except Interrupted as err:
            record.result, record.reason = "interrupted", "the flip stays in place"
            out.exit_code = EXIT_SIGNAL[err.signal_name]
            out.summary = (
                f"{plan.app}: {err.signal_name} during the post-flip watch: the flip to {plan.released} stays in place "
                f"(not reverted); to undo it: make rollback APP={plan.app}"
            )
            if plan.autoscaled:  # the floor's own edit would be one more `up` after a signal: left to the user
                out.summary += f"; {plan.released}'s raised HPA floor stays until you remove {floor_key(plan)}"
            self.progress.line(out.summary)
            self._tell("abort", out.summary, reason=f"interrupted ({err.signal_name})")
            return False
        record.result = "done"
        return True

    def _bake(self, step: Step, record: StepRecord, seconds: int) -> None:
        plan = self.plan
        check = self.check if plan.analysis_on else None
        checks = bake_checks(seconds) if check else []
        started = self.clock()
        while True:
            elapsed = self.clock() - started
            left = seconds - elapsed
            if check and checks and elapsed >= checks[0]:
                checks = [c for c in checks if c > elapsed]
                self.progress.status(f"step {step.label}: checking {plan.released} against the analysis")
                check(weights_at(plan.active, plan.released, step.weight), plan.start, plan.released if plan.cohorts else None)
            if left <= 0:
                break
            upcoming = (checks[0] - elapsed) if checks else left
            self.progress.status(
                f"step {step.label}: live {record.live}, bake {duration_text(left)} left"
                + (f", next analysis in {duration_text(upcoming)}" if checks else "")
            )
            signal_name = self.stop.wait(min(1.0, left, max(upcoming, 0.0)))
            if signal_name:
                raise Interrupted(signal_name)
        record.bake_seconds = self.clock() - started

    # -- abort

    def _abort(self, err: Exception) -> Outcome:
        plan, out = self.plan, self.outcome
        reason = str(err).strip()
        # A signal also ends an `up` it cancelled: that failure is the interruption.
        signal_name = err.signal_name if isinstance(err, Interrupted) else self.stop.wait(0)
        failed = out.records[-1] if out.records else None
        if failed is not None:
            failed.result, failed.reason = ("interrupted" if signal_name else "failed"), _first_line(reason)
            if failed.live == "?":  # the up failed: say where routing stayed
                live = self.target.routing(plan.app, plan.namespace)
                failed.live = split_text(live) if live else "?"
        shown = f"{failed.weight}%" if failed and isinstance(failed.weight, int) else failed.weight if failed else ""
        where = f"step {failed.label} ({plan.released} {shown})" if failed else "before the first step"
        # pulumi's output and the gate's report were shown as they came: here only the line that says why.
        self.progress.line(f"ABORT at {where}: {_first_line(reason) if isinstance(err, (UpFailed, GateRefused)) else reason}")
        out.exit_code = EXIT_SIGNAL.get(signal_name, EXIT_ABORTED) if signal_name else EXIT_ABORTED
        self._tell("abort", f"release of {plan.released} aborted at {where}", reason=_first_line(reason))
        restored = self._restore() if self.touched else "nothing was changed"
        if self.touched:
            self._tell("revert", f"{plan.app}: {restored}", live=self.outcome.records[-1].live)
        out.summary = f"{plan.app}: release of {plan.released} aborted at {where}: {_first_line(reason)}; {restored}"
        return out

    def _restore(self) -> str:
        plan = self.plan
        record = StepRecord("abort", "restore")
        self.outcome.records.append(record)
        started = self.clock()
        try:
            change, _ = edits.edit(self.root, self.stack, lambda config: plan_restore(config, plan), self.progress.line)
            self.progress.line(f"restore: {change.sentence if change.edits else 'the stack file already has it'}")
            if change.edits:
                try:
                    self._hook(f"release {plan.app} on {self.stack} aborted: restore {change.after.split_text()}")
                except HookFailed as err:  # live routing goes back all the same; git is told after
                    record.reason = f"{err}; commit Pulumi.{self.stack}.yaml by hand"
            self.progress.status("restore: pulumi up")
            self.target.up(self.progress.line)
        except (UpFailed, edits.Refused) as err:
            record.result, record.reason = "failed", _first_line(str(err))
            return f"RESTORE FAILED ({_first_line(str(err))}): check the live routing and run `pulumi up -s {self.stack}`"
        finally:
            record.up_seconds = self.clock() - started
        live = self.target.routing(plan.app, plan.namespace)
        record.live, record.result = (split_text(live) if live else "?"), "restored"
        return f"routing restored to {record.live}"

    # -- helpers

    def _hook(self, message: str) -> None:
        if self.on_change:
            self.on_change(message)

    def _raise_if_stopped(self) -> None:
        signal_name = self.stop.wait(0)
        if signal_name:
            raise Interrupted(signal_name)


def _file_weights(config: StackConfig, app: str) -> Weights:
    cfg = config.apps[app]
    return weights_at(cfg.active_color, cfg.idle_color, cfg.canary_weight)


def _first_line(text: str) -> str:
    """The line that says why: the gate's refusal or the engine's error, not pulumi's banner or progress prefix."""
    for reason in (r"\S+: routing not changed: .*", r"FAILED: .*", r"error: .*"):
        found = re.search(reason, text)
        if found:
            return found.group(0).strip()[:300]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return (lines[0] if lines else text)[:300]
