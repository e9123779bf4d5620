"""git in a project directory: for the diff (BASE trees) and the history (earlier stack files)."""

from __future__ import annotations

import subprocess
from pathlib import Path


class GitError(Exception):
    """git failed, or is not installed; the message has the command and git's own words."""


def git(root: Path, *args: str) -> bytes:
    """`git -C root <args>`'s output."""
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True)
    except OSError as err:
        raise GitError(f"git is not available: {err.strerror}") from None
    if done.returncode:
        raise GitError(f"git {' '.join(args)}: {done.stderr.decode().strip()}")
    return done.stdout
