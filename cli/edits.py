"""Guarded routing changes: flip, rollback, canary, and a status table, all as edits of `Pulumi.<stack>.yaml`.

Each command is the same change as `pulumi config set --path apps.<app>.<key> <value>` (or `config rm`), written
with comments and order kept, and only after checks a reviewer would make by hand: the app exists, and the color
about to take traffic has an image and pods. A flip records the color it replaces as `previousColor`, which is what
a rollback returns to (and clears). The edited file replaces the original only when it passes what `make plan`
checks: the program's config model, then the policy pack over the offline plan of the edited stack, with the
project's pack config for that stack (`policies/config/<stack>.json`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.app.bluegreen_app import preview_url
from components.app.config import AppConfig, ColorSpec, canary_weight_problem
from components.app.routing import routing_model
from components.config import (
    ConfigError,
    StackConfig,
    parse_stack_config,
    project_config,
)
from components.platform.gateway import scheme as gateway_scheme
from components.shared.colors import COLORS, Color, is_color
from policies.guardrails.catalog import MANDATORY
from policies.guardrails.evaluate import Finding, PackConfigError

from . import change_rules, hints, policy_check, stack_edit, stack_lock, stack_write
from .history import committed_app
from .plan import PlanError, run_plan
from .stackfile import StackFileError, project_name, read_stack_config, stack_path
from .traffic import Traffic


class Refused(Exception):
    """A change that is not safe or not possible; the message says why and what to do instead."""


@dataclass(frozen=True)
class Change:
    app: str
    edits: dict[str, Any]  # dotted config path (without the project prefix) -> new value, or stack_edit.REMOVE
    before: Traffic
    after: Traffic
    message: str = ""  # why nothing changes, for a no-op

    def edit_lines(self, stack: str) -> list[str]:
        """Each edit as written to the stack file, with the `pulumi config` command that does the same."""
        return [
            f"Pulumi.{stack}.yaml: {key} removed  (same as: pulumi config rm --path {key} -s {stack})"
            if value is stack_edit.REMOVE
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


# --- reading the stack -------------------------------------------------------------------------


def parse_stack_file(path: Path, project: str, stack: str) -> StackConfig:
    """The stack file's config, validated exactly as the program validates it for `stack`."""
    config, _ = read_stack_config(path, project)
    return parse_stack_config(project_config(config, project), stack=stack)


def load_stack(root: Path, stack: str) -> StackConfig:
    """The stack's validated config; StackFileError when its file is missing, unreadable or invalid."""
    path = stack_path(root, stack)
    try:
        return parse_stack_file(path, project_name(root), stack)
    except ConfigError as err:
        raise StackFileError(f"{path.name} is invalid, fix it first:\n{err}") from None


# --- the guards (pure: config in, edits out) ---------------------------------------------------


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
    return {"mirror": stack_edit.REMOVE} if cfg.mirror else {}


def _ending_the_cohorts(cfg: AppConfig) -> dict[str, Any]:
    """A flip ends the A/B cohorts: after it the idle color is the old version."""
    return {"cohortsActive": stack_edit.REMOVE} if cfg.cohorts_active else {}


def _change(app: str, cfg: AppConfig, edits: dict[str, Any], message: str = "") -> Change:
    defaults = {"cohortsActive": False}  # a removed key goes back to its default
    values = {key: defaults.get(key) if value is stack_edit.REMOVE else value for key, value in edits.items()}
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
        return _change(app, cfg, {"cohortsActive": stack_edit.REMOVE})
    if not cfg.cohorts:
        raise Refused(f"{app} has no cohorts: list them under apps.{app}.cohorts first, e.g. [{{header: {{name: x-beta, value: 'true'}}}}]")
    _must_serve(app, cfg, cfg.idle_color, f"cannot send {app}'s cohorts to {cfg.idle_color}")
    return _change(app, cfg, {"cohortsActive": True})


def plan_canary_end(config: StackConfig, app: str) -> Change:
    """Back to the active color alone: the canary share ends and so do the A/B cohorts (a release's restore)."""
    cfg = app_config(config, app)
    ending = {"canaryWeight": 0} if cfg.canary_weight else {}
    return _change(app, cfg, {**ending, **({"cohortsActive": stack_edit.REMOVE} if cfg.cohorts_active else {})})


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
    return _change(app, cfg, {"activeColor": cfg.previous_color, "previousColor": stack_edit.REMOVE})


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


# --- applying ----------------------------------------------------------------------------------


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def edit(
    root: Path, stack: str, plan_change: Callable[[StackConfig], Change], say: Callable[[str], None] = _stderr
) -> tuple[Change, list[Finding]]:
    """Plan a change on the stack's current config and write it, holding the stack file's edit lock from the
    read to the rename, so a concurrent edit is planned on top of this one instead of overwriting it. Returns
    the change and the advisory violations; `say` gets the "waiting for ..." line when another edit holds the lock."""
    path = stack_path(root, stack)
    try:
        with stack_lock.locked(path, say), hints.for_stack(stack):
            stack_write.remove_stale(path)  # left by an edit that was killed: this one holds the lock now
            config = load_stack(root, stack)
            change = plan_change(config)
            untested = _untested(root, stack, config, change)
            return change, untested + _write(root, stack, change)
    except (stack_lock.LockTimeout, stack_write.NotWritable) as err:
        raise Refused(str(err)) from None


def _untested(root: Path, stack: str, config: StackConfig, change: Change) -> list[Finding]:
    """flip-after-preview against the committed stack file: mandatory ones refuse, advisory ones are returned."""
    if not change.edits:
        return []
    cfg = config.apps[change.app]
    images: dict[str, str | None] = {color: cfg.color(color).image for color in COLORS}
    committed = committed_app(root, stack, project_name(root), change.app)
    try:
        findings = change_rules.untested_edit(stack, root, change.app, change.before, change.after, images, committed)
    except PackConfigError as err:
        raise Refused(f"invalid policy pack config for stack {stack}: {err}; nothing written") from None
    mandatory = [policy_check.finding_line(f) for f in findings if f.level == MANDATORY]
    if mandatory:
        raise Refused("the edit moves traffic to an image nobody previewed, nothing written:\n" + "\n".join(mandatory))
    return findings


def _write(root: Path, stack: str, change: Change) -> list[Finding]:
    """Write the edits into Pulumi.<stack>.yaml (the caller holds its lock), only if the result still passes the
    program's validation and the policy pack's mandatory policies; returns the advisory violations."""
    if not change.edits:
        return []
    path, project = root / f"Pulumi.{stack}.yaml", project_name(root)
    stack_write.check_writable(path)
    text, layout = stack_write.read(path)
    try:
        text = stack_edit.edit_text(text, project, change.edits, name=path.name)
    except stack_edit.UnsafeEdit as err:
        raise Refused(f"{path.name} cannot be edited line for line ({err}); make the change by hand") from None

    def check(staged: Path) -> list[Finding]:
        parse_stack_file(staged, project, stack)
        return _policy_check(root, stack, staged, path.name)

    try:
        return stack_write.replace(path, text, layout, check)
    except ConfigError as err:
        raise Refused(f"the edited {path.name} would be invalid, nothing written:\n{err}") from None


def _policy_check(root: Path, stack: str, staged: Path, name: str) -> list[Finding]:
    """The policy pack over the offline plan of the staged stack file, as `make plan` runs it: mandatory
    violations refuse the edit with the policies' own messages; advisory ones are returned."""
    try:
        findings = policy_check.check_project(stack, run_plan(stack, root, staged).recording.resources, root)
    except PlanError as err:
        raise Refused(f"the edited {name} does not plan, nothing written:\n{err}") from None
    except PackConfigError as err:
        raise Refused(f"invalid policy pack config for stack {stack}: {err}; nothing written") from None
    mandatory = [policy_check.finding_line(f) for f in findings if f.level == MANDATORY]
    if mandatory:
        raise Refused(f"the edited {name} fails the policy pack, nothing written:\n" + "\n".join(mandatory))
    return [f for f in findings if f.level != MANDATORY]


# --- status ------------------------------------------------------------------------------------

STATUS_COLUMNS = ("app", "active", "rollback to", "traffic", "preview", "preview URL", "cohorts", "blue", "green")


def _color_cell(spec: ColorSpec) -> str:
    # The whole reference: two colors from different registries (a mirror, a vendor) must be told apart.
    return f"{spec.image} x{spec.replicas}" if spec.image else "not deployed"


def status_rows(config: StackConfig) -> list[tuple[str, ...]]:
    """One row per app: active color, the rollback target (previousColor), default split (and mirror), preview
    target and URL, each color's full image reference and replicas."""
    rows = []
    scheme = gateway_scheme(config.gateway)
    for name, cfg in config.apps.items():
        now = traffic_of(cfg)
        colors = (_color_cell(cfg.color(c)) for c in COLORS)
        url = preview_url(cfg, scheme) or "-"
        rows.append(
            (
                name,
                cfg.active_color,
                cfg.previous_color or "-",
                now.split_and_mirror_text(),
                now.preview_text(),
                url,
                cohorts_cell(cfg),
                *colors,
            )
        )
    return rows


def cohorts_cell(cfg: AppConfig) -> str:
    """`green: header x-beta=true; cookie beta=1`, `off (2 listed)`, or `-` without cohorts."""
    if not cfg.cohorts:
        return "-"
    listed = "; ".join(cohort.text for cohort in cfg.cohorts)
    return f"{cfg.idle_color}: {listed}" if cfg.cohorts_active else f"off ({len(cfg.cohorts)} listed)"
