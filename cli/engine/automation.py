"""A stack of this project in the Pulumi backend, through the Automation API (`make release`, `make drift`).

The Python language host is not needed: the program runs in this process as an inline program, with the
project directory as the workspace, so the engine reads Pulumi.yaml and the same Pulumi.<stack>.yaml the
commands read. The switch gate's dynamic provider runs this Python with the project on PYTHONPATH.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

from pulumi import automation as auto

from cli.shared.paths import ROOT


class StackUnavailable(Exception):
    """The stack cannot be reached: not in the backend, no `pulumi` on PATH, not logged in, no passphrase."""


def run_program() -> None:
    runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")


def select_stack(root: Path, stack_name: str) -> auto.Stack:
    """The existing stack `stack_name` of the project in `root`, with the program of this checkout."""
    env = {
        "PULUMI_PYTHON_CMD": os.environ.get("PULUMI_PYTHON_CMD", sys.executable),
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
    }
    try:
        workspace = auto.LocalWorkspace(work_dir=str(root), program=run_program, env_vars=env)
        return auto.Stack.select(stack_name, workspace)
    except auto.StackNotFoundError:
        raise StackUnavailable(f"no stack {stack_name!r} in the Pulumi backend (`pulumi stack ls`)") from None
    except FileNotFoundError:
        raise StackUnavailable('the pulumi CLI is not on PATH (README "Deploy for real")') from None
    except auto.CommandError as err:  # not logged in, no passphrase, ...
        raise StackUnavailable(f"cannot select stack {stack_name!r}: {err}") from None
