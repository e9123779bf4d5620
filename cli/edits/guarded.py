"""A planned Change written into `Pulumi.<stack>.yaml` under the stack file's edit lock, with comments and order
kept, and only when the edited file passes what `make plan` checks: the program's config model, then the policy
pack over the offline plan of the edited stack, with the project's pack config for that stack
(`policies/config/<stack>.json`), and flip-after-preview against the committed file.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from cli.diff import change_rules
from cli.edits.changes import Change, Refused
from cli.engine import policy_check
from cli.engine.plan import PlanError, run_plan
from cli.shared import hints
from cli.stackfile import lock, write, yaml_edit
from cli.stackfile.config import load_stack, parse_stack_file
from cli.stackfile.history import committed_app
from cli.stackfile.read import project_name, stack_path
from components.config import (
    ConfigError,
    StackConfig,
)
from components.shared.colors import COLORS
from policies.guardrails.catalog import MANDATORY
from policies.guardrails.evaluate import Finding, PackConfigError


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
        with lock.locked(path, say), hints.for_stack(stack):
            write.remove_stale(path)  # left by an edit that was killed: this one holds the lock now
            config = load_stack(root, stack)
            change = plan_change(config)
            untested = _untested(root, stack, config, change)
            return change, untested + _write(root, stack, change)
    except (lock.LockTimeout, write.NotWritable) as err:
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
    write.check_writable(path)
    text, layout = write.read(path)
    try:
        text = yaml_edit.edit_text(text, project, change.edits, name=path.name)
    except yaml_edit.UnsafeEdit as err:
        raise Refused(f"{path.name} cannot be edited line for line ({err}); make the change by hand") from None

    def check(staged: Path) -> list[Finding]:
        parse_stack_file(staged, project, stack)
        return _policy_check(root, stack, staged, path.name)

    try:
        return write.replace(path, text, layout, check)
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
