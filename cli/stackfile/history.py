"""The stack file's git history: an app's settings as they were before its last flip.

A flip records `previousColor`; git tells what that color ran when production left it, so a release can
tell a new version on the idle color from the old one it would walk back in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cli.shared.git import GitError, git
from cli.stackfile.read import StackFileError, all_app_settings, app_settings, decode

MAX_COMMITS = 200  # how far back to look for the flip; older history is not searched


def _git(root: Path, *args: str) -> str | None:
    """git's output, or None where history cannot tell (no git, not a repository, no such file, not UTF-8 text)."""
    try:
        return decode(git(root, *args), "git output")
    except (GitError, StackFileError):
        return None


def settings_before_flip(root: Path, stack: str, project: str, app: str, now: dict[str, Any]) -> dict[str, Any] | None:
    """`apps.<app>` in the newest committed `Pulumi.<stack>.yaml` whose activeColor/previousColor differ from `now`:
    the settings just before the flip that made them. None when git cannot tell (no repository, no such commit)."""
    name = f"Pulumi.{stack}.yaml"
    state = (now.get("activeColor"), now.get("previousColor"))
    for commit in (_git(root, "log", f"--max-count={MAX_COMMITS}", "--format=%H", "--", name) or "").split():
        text = _git(root, "show", f"{commit}:./{name}")
        try:
            settings = app_settings(text, name, project, app) if text is not None else None
        except StackFileError:
            return None  # a broken old version: nothing reliable to compare with
        if settings is None:
            return None
        if (settings.get("activeColor"), settings.get("previousColor")) != state:
            return settings
    return None


def apps_committed(root: Path, stack: str, project: str) -> set[str] | None:
    """The apps of `Pulumi.<stack>.yaml` as committed at HEAD; None where git cannot tell (or that file is broken)."""
    name = f"Pulumi.{stack}.yaml"
    text = _git(root, "show", f"HEAD:./{name}")
    try:
        return set(all_app_settings(text, name, project)) if text is not None else None
    except StackFileError:
        return None


def committed_app(root: Path, stack: str, project: str, app: str) -> dict[str, Any] | None:
    """`apps.<app>` of `Pulumi.<stack>.yaml` as committed at HEAD; None where git cannot tell."""
    name = f"Pulumi.{stack}.yaml"
    text = _git(root, "show", f"HEAD:./{name}")
    try:
        return app_settings(text, name, project, app) if text is not None else None
    except StackFileError:
        return None
