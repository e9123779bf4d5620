"""Delivery commands: `diff` against a git ref, guarded `flip` / `rollback` / `canary`, `status`, the automated `release`,
and `drift` (live objects against the stack config)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.table import Table

from components.config import StackConfig

from . import diff as plan_diff
from . import edits, policy_check
from .stackfile import StackFileError

# At least 120 columns: CI logs are not terminals, and rich would otherwise squeeze tables to 80.
console = Console(highlight=False, width=max(120, shutil.get_terminal_size().columns))
STACK_EDITED = typer.Option(..., "--stack", "-s", help="stack name: edits Pulumi.<stack>.yaml (after its checks pass)")
STACK_READ = typer.Option(..., "--stack", "-s", help="stack name: reads Pulumi.<stack>.yaml, changes nothing")
APP = typer.Option(..., "--app", "-a", help="app name under apps: in the stack config")
ROOT_DIR = typer.Option(Path("."), "--root", help="project directory (the one with Pulumi.yaml)")
TO = typer.Option(..., "--to", help="blue or green")
WEIGHT = typer.Option(..., "--weight", "-w", help="idle color's share, 1-99 (0 ends the canary)")


def note(style: str, label: str, text: str) -> None:
    """A styled label, then text printed verbatim: config values (`['a.example.com']`, `[secret: ...]`) look like markup."""
    console.print(f"[{style}]{label}[/]", end="")
    console.print(text, markup=False, soft_wrap=True)


def fail(problem: object, code: int = 1) -> NoReturn:
    """`error: <problem>`, then exit `code`: something is broken (a stack file, a git ref, the config)."""
    note("bold red", "error:", f" {problem}")
    raise typer.Exit(code)


def refuse(reason: object) -> NoReturn:
    """`refused: <reason>`, then exit 1: the change is not safe or not possible; nothing was written."""
    note("bold red", "refused:", f" {reason}")
    raise typer.Exit(1)


def diff(
    stack: str = typer.Option(..., "--stack", "-s", help="stack name: reads Pulumi.<stack>.yaml at BASE and in the working tree"),
    base: str = typer.Option(..., "--base", "-b", help="git ref to compare with, e.g. HEAD, origin/main or a commit"),
    markdown: Path = typer.Option(None, "--markdown", "-m", help="also write the diff as Markdown (MR comment)"),
    root: Path = ROOT_DIR,
    remove_app: list[str] = typer.Option(
        [],
        "--remove-app",
        envvar="REMOVE_APP",
        help="an app this change removes on purpose (repeatable; env REMOVE_APP, space-separated); "
        "any other app that loses all its traffic makes the diff fail",
    ),
) -> None:
    """Plan the stack at BASE and in the working tree and show what changes (edits nothing). Exit 0 none, 1 error
    (also: an app loses all its traffic without --remove-app), 2 changes."""
    try:
        result = plan_diff.diff_stack(stack, base, root, frozenset(remove_app))
    except plan_diff.DiffError as err:
        fail(err, plan_diff.EXIT_ERROR)
    typer.echo(plan_diff.render_text(result), nl=False)
    if markdown:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(plan_diff.render_markdown(result))
    raise typer.Exit(result.exit_code)


def _run(root: Path, stack: str, plan_change: Callable[[StackConfig], edits.Change]) -> None:
    """Plan the change on the current config, write it (or refuse), and say what traffic does."""
    try:
        change, advisories = edits.edit(root, stack, plan_change)
    except edits.Refused as err:
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
    _run(root, stack, lambda config: edits.plan_flip(config, app, to))


def rollback(stack: str = STACK_EDITED, app: str = APP, root: Path = ROOT_DIR) -> None:
    """Undo the last flip: all traffic back to previousColor (it must still have pods); refused when there is nothing to undo."""
    _run(root, stack, lambda config: edits.plan_rollback(config, app))


def canary(stack: str = STACK_EDITED, app: str = APP, weight: int = WEIGHT, root: Path = ROOT_DIR) -> None:
    """Give the idle color WEIGHT % of APP's traffic (1-99; 0 ends the canary; all of it is a flip)."""
    _run(root, stack, lambda config: edits.plan_canary(config, app, weight))


def cohorts(
    stack: str = STACK_EDITED,
    app: str = APP,
    on: bool = typer.Option(..., "--on/--off", help="--on: apps.<app>.cohorts go to the idle color ahead of the split; --off: they stop"),
    root: Path = ROOT_DIR,
) -> None:
    """Start or end APP's A/B cohorts (apps.<app>.cohortsActive); the idle color must have an image and pods."""
    _run(root, stack, lambda config: edits.plan_cohorts(config, app, on))


def status(stack: str = STACK_READ, root: Path = ROOT_DIR) -> None:
    """Every app's colors, images, replicas and routing, as the stack file says (edits nothing)."""
    try:
        config = edits.load_stack(root, stack)
    except StackFileError as err:
        fail(err)
    table = Table(title=f"stack {stack}")
    for column in edits.STATUS_COLUMNS:
        table.add_column(column, no_wrap=True)
    rows = edits.status_rows(config)
    for row in rows:
        table.add_row(*row)
    # As wide as the rows need: a cut image reference or URL would hide what the table is for.
    needed = sum(max(len(c), *(len(r[i]) for r in rows)) + 3 for i, c in enumerate(edits.STATUS_COLUMNS)) if rows else 0
    Console(highlight=False, width=max(console.width, needed + 1)).print(table)


def release(
    stack: str = STACK_EDITED,
    app: str = APP,
    root: Path = ROOT_DIR,
    pulumi_stack: str = typer.Option(None, "--pulumi-stack", help="the stack's name in the backend, e.g. acme/stg (default: --stack)"),
    policy_pack: list[str] = typer.Option([], "--policy-pack", help="policy pack for every up (repeatable), as pulumi up --policy-pack"),
    policy_pack_config: list[str] = typer.Option([], "--policy-pack-config", help="its config file (repeatable)"),
    on_change: str = typer.Option(
        None,
        "--on-change",
        envvar="RELEASE_ON_CHANGE",
        help="shell command run after each edit of the stack file, before its up (CI: commit and push); "
        "gets RELEASE_MESSAGE and RELEASE_STACK_FILE; failing aborts the release",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="print each step's edit and offline plan diff; write and apply nothing"),
) -> None:
    """Walk APP's idle color through apps.<app>.promotion.steps: per step the guarded edit and a real pulumi up
    (switch gate), then hold for promotion.bake re-checking the analysis. Any failure restores the starting
    routing. Exit 0 released, 1 refused or aborted, 130/143 interrupted (routing restored)."""
    from . import release_run  # the Automation API only for this command

    options = {"pulumi_stack": pulumi_stack, "policy_packs": policy_pack, "policy_pack_configs": policy_pack_config, "on_change": on_change}
    try:
        if dry_run:
            release_run.dry_run(root, stack, app, console)
            return
        code = release_run.release(root, stack, app, console, **options)
    except edits.Refused as err:
        refuse(err)
    except (StackFileError, plan_diff.DiffError) as err:
        fail(err)
    raise typer.Exit(code)


def drift(
    stack: str = STACK_READ,
    root: Path = ROOT_DIR,
    pulumi_stack: str = typer.Option(None, "--pulumi-stack", help="the stack's name in the backend, e.g. acme/stg (default: --stack)"),
) -> None:
    """Compare every live object with the stack config (the real engine's pulumi preview --refresh; writes nothing)
    and say what differs, routing first. Exit 0 no drift, 1 drift, 2 cannot check (stack file, backend, engine)."""
    from . import drift as drift_text
    from . import drift_run  # the Automation API only for this command

    try:
        result = drift_run.check(root, stack, pulumi_stack)
    except (StackFileError, drift_run.DriftError) as err:
        fail(err, drift_text.EXIT_ERROR)
    console.print(drift_text.render(result, stack, f"pulumi up --refresh -s {pulumi_stack or stack}"), markup=False, end="", soft_wrap=True)
    raise typer.Exit(result.exit_code)


def register(app: typer.Typer) -> None:
    for command in (diff, flip, rollback, canary, cohorts, status, release, drift):
        app.command()(command)
