"""`make e2e-up STACK=<stack>`: the real engine's `pulumi up` of the project's own stack file on the local
cluster, the way the e2e tests run it (the Automation API with the project's program, the pinned `pulumi`).

For a person trying the real-traffic tier: `make e2e-env`, `make e2e-up STACK=local`, curl the gateway,
`make flip STACK=local APP=front`, `make e2e-up STACK=local` again. The stack's state lives in the local
cluster's backend (build/e2e/), so `make e2e-down` forgets it with the cluster.
"""

from __future__ import annotations

import argparse
import sys

import pytest
from pulumi import automation as auto

from tests.conftest import ROOT
from tests.e2e.harness import e2e_environment, workspace


def main() -> int:
    parser = argparse.ArgumentParser(description="pulumi up of a stack on the local e2e cluster")
    parser.add_argument("--stack", required=True)
    stack_name = parser.parse_args().stack
    if not (ROOT / f"Pulumi.{stack_name}.yaml").exists():
        print(f"error: Pulumi.{stack_name}.yaml not found", file=sys.stderr)
        return 2
    try:
        env = e2e_environment()
    except pytest.fail.Exception as missing:
        print(f"error: {missing}", file=sys.stderr)
        return 2
    stack = auto.Stack.create_or_select(stack_name, workspace(ROOT, env))
    try:
        stack.up(on_output=print, color="always" if sys.stdout.isatty() else "never")
    except auto.CommandError:
        return 1  # the engine printed why
    return 0


if __name__ == "__main__":
    sys.exit(main())
