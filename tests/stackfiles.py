"""Write small real projects (Pulumi.yaml + Pulumi.<stack>.yaml) into temp dirs for delivery-command tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import PROJECT, ROOT

HEADER = "# Test stack. A flip is a one-line change reviewed like code.\n"
CANARY_COMMENT = "  # idle color's share while it bakes"


def stack_text(raw: dict[str, Any]) -> str:
    """A stack file as people write it: header comment, project-prefixed keys, an end-of-line comment."""
    document = {"config": {f"{PROJECT}:{key}": value for key, value in raw.items()}}
    text = HEADER + yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=4096)
    return text.replace("canaryWeight: 0\n", f"canaryWeight: 0{CANARY_COMMENT}\n", 1)


def write_stack(root: Path, stack: str, raw: dict[str, Any]) -> Path:
    path = root / f"Pulumi.{stack}.yaml"
    path.write_text(stack_text(raw))
    return path


def copy_program(dest: Path) -> None:
    """The program as `pulumi up` sees it: Pulumi.yaml, __main__.py, components/ (not the stack files)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(ROOT / "components", dest / "components", ignore=shutil.ignore_patterns("__pycache__"))


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` as a test author; its stdout."""
    command = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args]
    return subprocess.run(command, cwd=repo, check=True, capture_output=True, text=True).stdout
