"""Guarded routing changes, planned: flip, rollback, canary and cohorts as edits of `Pulumi.<stack>.yaml`.

Each is the same change as `pulumi config set --path apps.<app>.<key> <value>` (or `config rm`), planned only after
the checks a reviewer would make by hand: the app exists, and the color about to take traffic has an image and pods.
A flip records the color it replaces as `previousColor`, which is what a rollback returns to (and clears). Pure:
config in, a Change out; cli/edits/guarded.py writes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cli.shared import hints
from cli.shared.traffic import Traffic
from cli.stackfile import yaml_edit
from components.app.config import AppConfig, canary_weight_problem
from components.app.routing import routing_model
from components.config import (
    StackConfig,
)
from components.shared.colors import COLORS, Color, is_color


class Refused(Exception):
    """A change that is not safe or not possible; the message says why and what to do instead."""


@dataclass(frozen=True)
class Change:
    app: str
    edits: dict[str, Any]  # dotted config path (without the project prefix) -> new value, or yaml_edit.REMOVE
    before: Traffic
    after: Traffic
    message: str = ""  # why nothing changes, for a no-op

    def edit_lines(self, stack: str) -> list[str]:
        """Each edit as written to the stack file, with the `pulumi config` command that does the same."""
        return [
            f"Pulumi.{stack}.yaml: {key} removed  (same as: pulumi config rm --path {key} -s {stack})"
            if value is yaml_edit.REMOVE
            else f"Pulumi.{stack}.yaml: {key} = {value}  (same as: pulumi config set --path {key} {value} -s {stack})"
            for key, value in self.edits.items()
        ]

    @property
    def sentence(self) -> str:
        line = f"{self.app}: {self.before.split_text()} -> {self.after.split_text()}"
        if self.before.preview != self.after.preview:
            line += f" (preview: {self.before.preview_text()} -> {self.after.preview_text()})"
        if self.before.mirror != self.after.mirror:
            line += f" (mirror: {self.before.mirror_text()} -> {self.after.mirror_text()})"
        if self.before.cohorts != self.after.cohorts:
            line += f" (cohorts: {self.before.cohorts_text()} -> {self.after.cohorts_text()})"
        return line


def traffic_of(app: AppConfig) -> Traffic:
    model = routing_model(app)
    default = model.default_route
    split = tuple((d.color, d.weight) for d in default.destinations)
    mirror = (default.mirror.color, default.mirror.percent) if default.mirror else None
    preview = tuple(sorted({d.color for route in model.preview for d in route.destinations}))
    return Traffic(split, preview, mirror, tuple(sorted({d.color for route in model.cohorts for d in route.destinations})))


def app_config(config: StackConfig, app: str) -> AppConfig:
    """apps.<app>, or Refused naming the apps there are."""
    if app not in config.apps:
        known = ", ".join(sorted(config.apps)) or "none"
        raise Refused(f"unknown app {app!r}; apps in this stack: {known}")
    return config.apps[app]


def _must_serve(app: str, cfg: AppConfig, color: Color, why: str) -> None:
    spec = cfg.color(color)
    if spec.image is None:
        raise Refused(f"{why}: apps.{app}.{color}.image is not set, {color} has nothing deployed; deploy an image first")
    if spec.replicas < 1:
        raise Refused(f"{why}: apps.{app}.{color}.replicas is {spec.replicas}, {color} has no pods; scale it up first")


# stack file key -> AppConfig field
_FIELDS = {
    "activeColor": "active_color",
    "previousColor": "previous_color",
    "canaryWeight": "canary_weight",
    "mirror": "mirror",
    "cohortsActive": "cohorts_active",
}


def _ending_the_shadow(cfg: AppConfig) -> dict[str, Any]:
    """A canary or a flip ends a shadow test: the idle color now takes real traffic (and Istio would copy a
    canary's own requests to it twice), and after a flip the copies would go to the old version."""
    return {"mirror": yaml_edit.REMOVE} if cfg.mirror else {}


def _ending_the_cohorts(cfg: AppConfig) -> dict[str, Any]:
    """A flip ends the A/B cohorts: after it the idle color is the old version."""
    return {"cohortsActive": yaml_edit.REMOVE} if cfg.cohorts_active else {}


def _change(app: str, cfg: AppConfig, edits: dict[str, Any], message: str = "") -> Change:
    defaults = {"cohortsActive": False}  # a removed key goes back to its default
    values = {key: defaults.get(key) if value is yaml_edit.REMOVE else value for key, value in edits.items()}
    after = cfg.model_copy(update={_FIELDS[key]: value for key, value in values.items()})
    paths = {f"apps.{app}.{key}": value for key, value in edits.items()}
    return Change(app, paths, traffic_of(cfg), traffic_of(after), message)


def plan_flip(config: StackConfig, app: str, to: str) -> Change:
    """Send all default traffic to `to`: it becomes activeColor (the color it replaces is recorded as
    previousColor, for rollback) and any canary share ends."""
    cfg = app_config(config, app)
    if not is_color(to):
        raise Refused(f"cannot flip {app} to {to!r}: a color is one of {', '.join(COLORS)}")
    if cfg.active_color == to and cfg.canary_weight == 0:
        return _change(app, cfg, {}, f"{app} already sends all traffic to {to}: nothing to change")
    _must_serve(app, cfg, to, f"cannot flip {app} to {to}")
    edits: dict[str, Any] = {"activeColor": to, "previousColor": cfg.active_color} if cfg.active_color != to else {}
    if cfg.canary_weight:
        edits["canaryWeight"] = 0
    return _change(app, cfg, {**edits, **_ending_the_shadow(cfg), **_ending_the_cohorts(cfg)})


def plan_cohorts(config: StackConfig, app: str, on: bool) -> Change:
    """Start (`cohortsActive: true`) or end the A/B cohorts: apps.<app>.cohorts go to the idle color ahead of the split."""
    cfg = app_config(config, app)
    if on == cfg.cohorts_active:
        return _change(app, cfg, {}, f"{app}'s cohorts are already {'on' if on else 'off'}: nothing to change")
    if not on:
        return _change(app, cfg, {"cohortsActive": yaml_edit.REMOVE})
    if not cfg.cohorts:
        raise Refused(f"{app} has no cohorts: list them under apps.{app}.cohorts first, e.g. [{{header: {{name: x-beta, value: 'true'}}}}]")
    _must_serve(app, cfg, cfg.idle_color, f"cannot send {app}'s cohorts to {cfg.idle_color}")
    return _change(app, cfg, {"cohortsActive": True})


def plan_canary_end(config: StackConfig, app: str) -> Change:
    """Back to the active color alone: the canary share ends and so do the A/B cohorts (a release's restore)."""
    cfg = app_config(config, app)
    ending = {"canaryWeight": 0} if cfg.canary_weight else {}
    return _change(app, cfg, {**ending, **({"cohortsActive": yaml_edit.REMOVE} if cfg.cohorts_active else {})})


def plan_rollback(config: StackConfig, app: str) -> Change:
    """Undo the last flip: all traffic back to previousColor, which must still be deployed and scaled, and
    previousColor cleared, so a second rollback has nothing to undo instead of flipping forward again."""
    cfg = app_config(config, app)
    if cfg.canary_weight:
        raise Refused(
            f"{app} is splitting traffic ({traffic_of(cfg).split_text()}), so 'back' is ambiguous: "
            f"stop the canary with `{hints.command('canary', app=app, weight=0)}` or choose a color with "
            f"`{hints.command('flip', app=app, to='<color>')}`"
        )
    if cfg.previous_color is None:
        raise Refused(
            f"{app} has nothing to undo: no previousColor recorded (the last flip was already rolled back, "
            f"or activeColor was edited by hand); use `{hints.command('flip', app=app, to='<color>')}`"
        )
    _must_serve(app, cfg, cfg.previous_color, f"cannot roll {app} back to {cfg.previous_color}")
    return _change(app, cfg, {"activeColor": cfg.previous_color, "previousColor": yaml_edit.REMOVE})


def plan_canary(config: StackConfig, app: str, weight: int) -> Change:
    """Give the idle color `weight` % of default traffic (0 ends a canary; 100 is a flip, refused here)."""
    cfg = app_config(config, app)
    problem = canary_weight_problem(weight)
    if problem:
        raise Refused(f"canary weight for {app}: {problem}")
    if weight == cfg.canary_weight:
        return _change(app, cfg, {}, f"{app} already gives {cfg.idle_color} {weight}%: nothing to change")
    if not weight:
        return _change(app, cfg, {"canaryWeight": weight})
    _must_serve(app, cfg, cfg.idle_color, f"cannot send {weight}% of {app} to {cfg.idle_color}")
    return _change(app, cfg, {"canaryWeight": weight, **_ending_the_shadow(cfg)})
