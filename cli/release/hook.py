"""The --on-change hook: a shell command run after each edit of the stack file (CI: commit and push)."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path


class HookFailed(Exception):
    pass


def run_hook(command: str, message: str, stack_file: Path) -> None:
    """Run the --on-change command (e.g. commit and push the stack file) in the project directory, with the
    step in its environment."""
    env = {**os.environ, "RELEASE_MESSAGE": message, "RELEASE_STACK_FILE": str(stack_file)}
    done = subprocess.run(["sh", "-c", command], cwd=stack_file.parent, env=env, capture_output=True, text=True)
    if done.returncode:
        output = (done.stdout + done.stderr).strip()[-500:]
        raise HookFailed(f"--on-change exited {done.returncode}: {shlex.quote(command)}: {output}")
