"""`release`: the automated walk through apps.<app>.promotion.steps on the real stack."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.commands.output import APP, ROOT_DIR, STACK_EDITED, console, fail, refuse
from cli.diff import compare as plan_diff
from cli.edits import changes
from cli.stackfile.read import StackFileError


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
    from cli.release import run as release_run  # the Automation API only for this command

    options = {"pulumi_stack": pulumi_stack, "policy_packs": policy_pack, "policy_pack_configs": policy_pack_config, "on_change": on_change}
    try:
        if dry_run:
            release_run.dry_run(root, stack, app, console)
            return
        code = release_run.release(root, stack, app, console, **options)
    except changes.Refused as err:
        refuse(err)
    except (StackFileError, plan_diff.DiffError) as err:
        fail(err)
    raise typer.Exit(code)
