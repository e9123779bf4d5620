"""`python -m cli ...`: the offline plan and the delivery commands."""

from __future__ import annotations

import typer

from cli.commands import diff, plan, release, routing

# Plain help (no rich panels): a flag shows as `--dry-run`, not `--dry-run <bool>`.
app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__, rich_markup_mode=None)


@app.callback()
def main() -> None:
    """bluegreen-platform tooling: offline plan, diff and guarded routing changes."""


for command in (
    plan.plan,
    diff.diff,
    routing.flip,
    routing.rollback,
    routing.canary,
    routing.cohorts,
    routing.status,
    release.release,
    diff.drift,
):
    app.command()(command)
