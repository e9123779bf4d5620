"""What every command prints the same way: the console, `error:` and `refused:` lines, the shared options."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console

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
