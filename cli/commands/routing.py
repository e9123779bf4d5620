"""Guarded routing changes as commands: `flip`, `rollback`, `canary`, `cohorts`, and `status` (reads only)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from cli.commands.output import APP, ROOT_DIR, STACK_EDITED, STACK_READ, TO, WEIGHT, console, fail, note, refuse
from cli.edits import changes, guarded
from cli.edits.status import STATUS_COLUMNS, status_rows
from cli.engine import policy_check
from cli.stackfile.config import load_stack
from cli.stackfile.read import StackFileError
from components.config import StackConfig


def _run(root: Path, stack: str, plan_change: Callable[[StackConfig], changes.Change]) -> None:
    """Plan the change on the current config, write it (or refuse), and say what traffic does."""
    try:
        change, advisories = guarded.edit(root, stack, plan_change)
    except changes.Refused as err:
        refuse(err)
    except StackFileError as err:
        fail(err)
    if change.message:
        console.print(change.message)
        return
    for line in change.edit_lines(stack):
        console.print(line, markup=False, soft_wrap=True)
    for finding in advisories:
        note("yellow", "warning:", f" {policy_check.finding_line(finding)}")
    console.print(f"traffic: {change.sentence}")
    console.print(f"next: review with `make diff STACK={stack}`, then `pulumi up -s {stack}` (or merge the change)")


def flip(stack: str = STACK_EDITED, app: str = APP, to: str = TO, root: Path = ROOT_DIR) -> None:
    """Send all of APP's traffic to a color (it must have an image and pods)."""
    _run(root, stack, lambda config: changes.plan_flip(config, app, to))


def rollback(stack: str = STACK_EDITED, app: str = APP, root: Path = ROOT_DIR) -> None:
    """Undo the last flip: all traffic back to previousColor (it must still have pods); refused when there is nothing to undo."""
    _run(root, stack, lambda config: changes.plan_rollback(config, app))


def canary(stack: str = STACK_EDITED, app: str = APP, weight: int = WEIGHT, root: Path = ROOT_DIR) -> None:
    """Give the idle color WEIGHT % of APP's traffic (1-99; 0 ends the canary; all of it is a flip)."""
    _run(root, stack, lambda config: changes.plan_canary(config, app, weight))


def cohorts(
    stack: str = STACK_EDITED,
    app: str = APP,
    on: bool = typer.Option(..., "--on/--off", help="--on: apps.<app>.cohorts go to the idle color ahead of the split; --off: they stop"),
    root: Path = ROOT_DIR,
) -> None:
    """Start or end APP's A/B cohorts (apps.<app>.cohortsActive); the idle color must have an image and pods."""
    _run(root, stack, lambda config: changes.plan_cohorts(config, app, on))


def status(stack: str = STACK_READ, root: Path = ROOT_DIR) -> None:
    """Every app's colors, images, replicas and routing, as the stack file says (edits nothing)."""
    try:
        config = load_stack(root, stack)
    except StackFileError as err:
        fail(err)
    table = Table(title=f"stack {stack}")
    for column in STATUS_COLUMNS:
        table.add_column(column, no_wrap=True)
    rows = status_rows(config)
    for row in rows:
        table.add_row(*row)
    # As wide as the rows need: a cut image reference or URL would hide what the table is for.
    needed = sum(max(len(c), *(len(r[i]) for r in rows)) + 3 for i, c in enumerate(STATUS_COLUMNS)) if rows else 0
    Console(highlight=False, width=max(console.width, needed + 1)).print(table)
