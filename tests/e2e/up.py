"""`make e2e-up STACK=<stack>`: the real engine's `pulumi up` of the project's own stack file on the local
cluster, the way the e2e tests run it (the Automation API with the project's program, the pinned `pulumi`).

For a person trying the real-traffic tier: `make e2e-env`, `make e2e-up STACK=local`, curl the gateway,
`make flip STACK=local APP=front`, `make e2e-up STACK=local` again; `make e2e-up DESTROY=1` removes it. The stack's state lives in the local
cluster's backend (build/e2e/), so `make e2e-down` forgets it with the cluster.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import pytest
from pulumi import automation as auto

from tests.conftest import ROOT
from tests.e2e.harness import e2e_environment, workspace


def scratch_project(stack: str) -> Path:
    """build/e2e/up/: Pulumi.yaml and the stack file as they are now. The CLI rewrites the stack file it runs
    (it adds an encryption salt and reformats the YAML), so it gets a copy; the salt it wrote is kept."""
    work_dir = ROOT / "build" / "e2e" / "up"
    work_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "Pulumi.yaml", work_dir / "Pulumi.yaml")
    copied = work_dir / f"Pulumi.{stack}.yaml"
    salt = [line for line in copied.read_text().splitlines() if line.startswith("encryptionsalt:")] if copied.exists() else []
    text = (ROOT / f"Pulumi.{stack}.yaml").read_text()
    copied.write_text(text + "".join(f"{line}\n" for line in salt))
    return work_dir


def main() -> int:
    parser = argparse.ArgumentParser(description="pulumi up of a stack on the local e2e cluster")
    parser.add_argument("--stack", required=True)
    parser.add_argument("--destroy", action="store_true", help="pulumi destroy instead (make e2e-up DESTROY=1)")
    args = parser.parse_args()
    stack_name = args.stack
    if not (ROOT / f"Pulumi.{stack_name}.yaml").exists():
        print(f"error: Pulumi.{stack_name}.yaml not found", file=sys.stderr)
        return 2
    try:
        env = e2e_environment()
    except pytest.fail.Exception as missing:
        print(f"error: {missing}", file=sys.stderr)
        return 2
    stack = auto.Stack.create_or_select(stack_name, workspace(scratch_project(stack_name), env))
    try:
        run = stack.destroy if args.destroy else stack.up
        run(on_output=print, color="always" if sys.stdout.isatty() else "never")
    except auto.CommandError:
        return 1  # the engine printed why
    return 0


if __name__ == "__main__":
    sys.exit(main())
