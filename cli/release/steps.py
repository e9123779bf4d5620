"""The release's step plan, pure: the steps still to walk from the stack file's routing, and each step's guarded edit."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cli.edits import changes
from cli.edits.changes import traffic_of
from cli.shared import hints
from cli.shared.traffic import Traffic
from cli.stackfile import yaml_edit
from components.app.config import COHORT_STEP, duration_seconds
from components.app.promotion import Weights
from components.config import StackConfig
from components.shared.colors import COLORS, Color

FLIP = 100
CHECK_EVERY_SECONDS = 30  # analysis re-checks during a bake: at most this far apart, and at its end


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

    `before_flip` is apps.<app> as it was before its last flip (cli/stackfile/history.py): when the idle color is the one
    that flip left and still runs the same image, a release would walk that old version back: refused.
    """
    cfg = changes.app_config(config, app)
    idle, image = cfg.idle_color, cfg.color(cfg.idle_color).image
    left = (before_flip or {}).get(idle)
    if cfg.previous_color == idle and isinstance(left, Mapping) and image is not None and left.get("image") == str(image):
        raise changes.Refused(
            f"{app}: the last flip moved production from {idle} to {cfg.active_color}, and {idle} still runs {image}: "
            f"releasing it would walk that version back. To undo the flip at once: {hints.command('rollback', app=app)}; "
            f"to release a new version, change apps.{app}.{idle}.image first"
        )
    plan = cfg.promotion.steps
    if plan is None:
        raise changes.Refused(
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


def plan_step(config: StackConfig, plan: ReleasePlan, step: Step, floor: int | None = None) -> changes.Change:
    """The guarded edit of one step: `make canary WEIGHT=<w>`, or `make flip TO=<released>` for 100; with `floor`
    (autoscaled: the replicas the step's share needs) also the released color's HPA floor, when it is lower."""
    if step.flip:
        change = changes.plan_flip(config, plan.app, plan.released)
    elif step.cohort:
        change = changes.plan_cohorts(config, plan.app, True)
    else:
        change = changes.plan_canary(config, plan.app, step.weight)
    autoscaling = config.apps[plan.app].autoscaling
    if floor is None or autoscaling is None or floor <= autoscaling.floor(plan.released):
        return change
    if floor > autoscaling.max_replicas:
        raise changes.Refused(
            f"{plan.app}: {plan.released} would need {floor} replicas for {step.what}, above apps.{plan.app}.autoscaling.maxReplicas "
            f"({autoscaling.max_replicas}): it cannot carry that share of the active color's load; raise maxReplicas"
        )
    return dataclasses.replace(change, edits={**change.edits, floor_key(plan): floor})


def plan_floor_end(config: StackConfig, plan: ReleasePlan) -> changes.Change:
    """After the flip (or an abort): the released color's raised HPA floor goes, its HPA follows the load again."""
    cfg = changes.app_config(config, plan.app)
    floors = cfg.autoscaling.floors if cfg.autoscaling is not None else {}
    # The whole `floors` map when it has no other color: a map left empty would be rewritten around.
    key = floor_key(plan) if set(floors) - {plan.released} else floor_key(plan).rsplit(".", 1)[0]
    return changes.Change(plan.app, {key: yaml_edit.REMOVE} if plan.released in floors else {}, traffic_of(cfg), traffic_of(cfg))


def plan_restore(config: StackConfig, plan: ReleasePlan) -> changes.Change:
    """Back to where the release started: a written flip is rolled back, a canary ends, a raised floor goes."""
    cfg = config.apps[plan.app]
    change = changes.plan_rollback(config, plan.app) if cfg.active_color != plan.active else changes.plan_canary_end(config, plan.app)
    return dataclasses.replace(change, edits={**change.edits, **plan_floor_end(config, plan).edits})


def bake_checks(bake_seconds: int, every: int = CHECK_EVERY_SECONDS) -> list[int]:
    """Seconds into a bake at which the analysis is re-checked: every `every` seconds, and at its end."""
    return [*range(every, bake_seconds, every), bake_seconds]


def duration_text(seconds: float) -> str:
    whole = max(0, round(seconds))
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"


def file_weights(config: StackConfig, app: str) -> Weights:
    cfg = config.apps[app]
    return weights_at(cfg.active_color, cfg.idle_color, cfg.canary_weight)
