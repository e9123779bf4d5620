"""`diff` (a change against a git ref, offline) and `drift` (live objects against the stack config, real engine)."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.commands.output import ROOT_DIR, STACK_READ, console, fail
from cli.diff import compare as plan_diff
from cli.stackfile.read import StackFileError


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


def drift(
    stack: str = STACK_READ,
    root: Path = ROOT_DIR,
    pulumi_stack: str = typer.Option(None, "--pulumi-stack", help="the stack's name in the backend, e.g. acme/stg (default: --stack)"),
) -> None:
    """Compare every live object with the stack config (the real engine's pulumi preview --refresh; writes nothing)
    and say what differs, routing first. Exit 0 no drift, 1 drift, 2 cannot check (stack file, backend, engine)."""
    from cli.diff import drift as drift_text
    from cli.diff import drift_run  # the Automation API only for this command

    try:
        result = drift_run.check(root, stack, pulumi_stack)
    except (StackFileError, drift_run.DriftError) as err:
        fail(err, drift_text.EXIT_ERROR)
    console.print(drift_text.render(result, stack, f"pulumi up --refresh -s {pulumi_stack or stack}"), markup=False, end="", soft_wrap=True)
    raise typer.Exit(result.exit_code)
