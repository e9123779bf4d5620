"""A stack file's config, validated exactly as the program validates it."""

from __future__ import annotations

from pathlib import Path

from cli.stackfile.read import StackFileError, project_name, read_stack_config, stack_path
from components.config import (
    ConfigError,
    StackConfig,
    parse_stack_config,
    project_config,
)


def parse_stack_file(path: Path, project: str, stack: str) -> StackConfig:
    """The stack file's config, validated exactly as the program validates it for `stack`."""
    config, _ = read_stack_config(path, project)
    return parse_stack_config(project_config(config, project), stack=stack)


def load_stack(root: Path, stack: str) -> StackConfig:
    """The stack's validated config; StackFileError when its file is missing, unreadable or invalid."""
    path = stack_path(root, stack)
    try:
        return parse_stack_file(path, project_name(root), stack)
    except ConfigError as err:
        raise StackFileError(f"{path.name} is invalid, fix it first:\n{err}") from None
