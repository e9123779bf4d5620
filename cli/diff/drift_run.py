"""`make drift`'s wiring: the stack file checked, then the real engine's `pulumi preview --refresh` through the
Automation API (cli/engine/automation.py), its events turned into sentences by cli/diff/drift.py.

A preview with refresh reads every resource live and compares the program with what it read, in memory: the
stack's state (the backend's checkpoint) and the stack file are not written. (`pulumi refresh` would write the live
values into the state, and the next `pulumi up` would then see no difference between the state and the live objects
only because the state had stopped remembering what was applied.)
"""

from __future__ import annotations

import re
from pathlib import Path

from pulumi import automation as auto

from cli.diff import drift
from cli.engine.automation import StackUnavailable, select_stack
from cli.stackfile.config import load_stack


class DriftError(Exception):
    """The comparison could not run: the stack file, the backend or the engine failed (exit 2)."""


def engine_error(err: auto.CommandError) -> str:
    """The engine's own `error: ...` lines (not its banner or progress), or the first lines it printed."""
    text = str(err)
    found = [line.strip() for line in re.findall(r"^\s*(?:error: |\* ).*$", text, flags=re.M)]
    kept = [line for line in dict.fromkeys(found) if line not in ("error: preview failed", "error: update failed")]
    lines = kept or [line.strip() for line in text.splitlines() if line.strip()]
    return "\n".join(lines[:6])[:1500]


def check(root: Path, stack: str, pulumi_stack: str | None = None) -> drift.Report:
    """Compare the live objects of `stack` with Pulumi.<stack>.yaml; DriftError or StackFileError when it cannot."""
    config = load_stack(root, stack)  # an invalid stack file stops here, before the engine starts
    name = pulumi_stack or stack
    try:
        target = select_stack(root, name)
    except StackUnavailable as err:
        raise DriftError(str(err)) from None
    events: list[auto.EngineEvent] = []
    try:
        target.preview(refresh=True, diff=True, color="never", on_event=events.append, suppress_progress=True)
    except auto.CommandError as err:
        raise DriftError(f"pulumi preview --refresh of stack {name} failed:\n{engine_error(err)}") from None
    return drift.report(drift.check(events), config)
