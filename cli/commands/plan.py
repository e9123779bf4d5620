"""`python -m cli plan --stack S`: the offline plan (`make plan`)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from cli.commands.output import console, fail, note
from cli.engine import plan_cache, policy_check
from cli.engine.collector import fewer_collections
from cli.engine.plan import (
    POLICY_FAILED,
    PlanError,
    discard_plan,
    routing_tables,
    run_plan,
    type_counts,
    unrendered_releases,
    write_plan,
)
from cli.shared.paths import ROOT
from cli.stackfile.history import apps_committed
from cli.stackfile.read import StackFileError, project_name


@fewer_collections()
def plan(
    stack: str = typer.Option(..., "--stack", "-s", help="stack name: reads Pulumi.<stack>.yaml"),
    out: Path = typer.Option(None, help="output folder (default build/<stack>)"),
    policy_config: Path = typer.Option(None, help="policy pack config (default policies/config/<stack>.json if it exists)"),
) -> None:
    """Evaluate the program offline, write build/<stack>/, then run the policy pack over it."""
    out_dir = out or ROOT / "build" / stack
    try:
        result = run_plan(stack)
        text, passed = policy_check.run(stack, result.recording, policy_config)
        # A policy failure still writes the manifests, for inspection, marked POLICY-FAILED.
        write_plan(result, out_dir, policy_failure=None if passed else text)
    except BaseException as err:
        # Whatever stopped this plan, the previous build/<stack> must not pass for its result.
        discard_plan(out_dir)
        if isinstance(err, (PlanError, StackFileError)):
            fail(err)
        raise

    counts = Table(title=f"stack {stack}: {len(result.recording.resources)} resources")
    counts.add_column("type")
    counts.add_column("count", justify="right")
    for type_, count in sorted(type_counts(result.recording).items()):
        counts.add_row(type_, str(count))
    console.print(counts)
    # `make plan` has no BASE; against the committed stack file it still says loudly when an app would go.
    tables = routing_tables(result.manifests)
    for gone in sorted((apps_committed(ROOT, stack, project_name(ROOT)) or set()) - set(tables)):
        note("bold red", "!! REMOVES APP", f" {gone}: in the committed Pulumi.{stack}.yaml, not in this one: `pulumi up` deletes it")
    for name, rows in tables.items():
        table = Table(title=f"routing: {name}")
        for column in ("match", "color", "%"):
            table.add_column(column)
        for match, color, weight in rows:
            table.add_row(match, color, str(weight))
        console.print(table)
    # Here, not at the top: the placeholders name the program's own invoke (components/app/applied.py), which
    # loads the Pulumi SDK, and `python -m cli` loads it only once a plan runs.
    from cli.engine.placeholders import NO_PREVIOUS, READ_STACK_OUTPUTS

    for invoke in result.recording.invokes:
        answer = NO_PREVIOUS if invoke.token == READ_STACK_OUTPUTS else invoke.answer
        note("yellow", "placeholder", f" answer for invoke {invoke.token}: {answer}")
    for release in unrendered_releases(result.recording):
        note("yellow", "not rendered", f" helm release {release}: templates come from the chart at `pulumi up`")
    for key in result.secret_keys:
        note("yellow", "secret", f" {key}: shown as a placeholder, not decrypted")
    for warning in result.recording.warnings:
        note("yellow", "warning", f" {warning}")
    shown_dir = out_dir.relative_to(ROOT) if out_dir.is_relative_to(ROOT) else out_dir
    marked = "" if passed else f", marked {POLICY_FAILED}"
    console.print(f"wrote {len(result.manifests)} manifests to {shown_dir}{marked}", markup=False)
    # On stderr: stdout is the same for the same input, byte for byte.
    reused = f" (planned before, read from {plan_cache.CACHE_ENV} folder {plan_cache.cache_dir()})" if result.cached else ""
    typer.echo(f"planned in {result.seconds:.2f}s{reused}", err=True)
    console.print(text, markup=False, soft_wrap=True)  # one violation per line, like preview
    if not passed:
        fail(f"policy check failed: mandatory violations or invalid pack config (see {shown_dir / POLICY_FAILED})")
