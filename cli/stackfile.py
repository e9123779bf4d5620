"""The one reader of `Pulumi.yaml` and `Pulumi.<stack>.yaml`: config the way the Pulumi CLI hands it to a program.

Every command reads stack files through `parse`, so a broken file gets the same one-line answer everywhere:
`Pulumi.stg.yaml:69:21: <what is wrong>` (1-based line and column). Like the Pulumi CLI, a duplicate key is an
error, never a silent "last one wins".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, StreamMark
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.scalarbool import ScalarBoolean

SECRET_PLACEHOLDER = "[secret: not decrypted by the offline plan]"
PROJECT_FILE = "Pulumi.yaml"


class StackFileError(Exception):
    """A project or stack file that cannot be used; the message names the file (and line:column) and the problem."""


# --- parsing -----------------------------------------------------------------------------------


def _at(name: str, mark: StreamMark) -> str:
    return f"{name}:{mark.line + 1}:{mark.column + 1}"


def _duplicate(node: Node | None, mark: StreamMark, path: tuple[str, ...] = ()) -> tuple[str, int] | None:
    """(key path, 1-based line of the first occurrence) of the duplicate key that starts at `mark`."""
    if isinstance(node, MappingNode):
        first_line: dict[str, int] = {}
        for key, value in node.value:
            if isinstance(key, ScalarNode):
                if key.value in first_line and (key.start_mark.line, key.start_mark.column) == (mark.line, mark.column):
                    return ".".join((*path, key.value)), first_line[key.value]
                first_line.setdefault(key.value, key.start_mark.line + 1)
            found = _duplicate(value, mark, (*path, str(key.value)))
            if found:
                return found
    if isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            found = _duplicate(item, mark, (*path, str(index)))
            if found:
                return found
    return None


def _problem(err: MarkedYAMLError) -> str:
    if "'\\t'" in (err.problem or ""):
        return "a tab character: YAML indents with spaces only"
    context = err.context_mark
    if err.context and context is not None:
        return f"{err.problem} ({err.context} started at {context.line + 1}:{context.column + 1})"
    return str(err.problem)


def parse(text: str, name: str, yaml: YAML | None = None) -> Any:
    """The YAML document in `text`, read from file `name`; StackFileError for a syntax error or a duplicate key.

    `yaml` is the loader to use (default: ruamel's round trip, YAML 1.2, duplicate keys refused).
    """
    loader = yaml or YAML()
    try:
        return loader.load(text)
    except DuplicateKeyError as err:
        mark = err.problem_mark
        found = _duplicate(loader.compose(text), mark)
        what = f"{found[0]} (first at line {found[1]})" if found else str(err.problem)
        raise StackFileError(f"{_at(name, mark)}: duplicate key {what}") from None
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = _at(name, mark) if mark is not None else name
        raise StackFileError(f"{where}: {_problem(err)}") from None


def _read(path: Path) -> Any:
    try:
        text = path.read_text()
    except OSError as err:
        raise StackFileError(f"{path.name}: cannot be read ({err.strerror})") from None
    return parse(text, path.name)


# --- finding files -----------------------------------------------------------------------------


def known_stacks(root: Path) -> list[str]:
    """The stacks that have a stack file in `root`, sorted."""
    return sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in root.glob("Pulumi.*.yaml"))


def stack_path(root: Path, stack: str) -> Path:
    """`root/Pulumi.<stack>.yaml`, or StackFileError naming the stacks there are."""
    path = root / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise StackFileError(f"no stack file {path.name}; stacks here: {', '.join(known_stacks(root)) or 'none'}")
    return path


def project_name(root: Path) -> str:
    path = root / PROJECT_FILE
    if not path.is_file():
        raise StackFileError(f"no {PROJECT_FILE} in {root}: not a Pulumi project")
    document = _read(path)
    name = document.get("name") if isinstance(document, dict) else None
    if not isinstance(name, str) or not name:
        raise StackFileError(f"{PROJECT_FILE}: name: is required (the project name, e.g. name: bluegreen-platform)")
    return name


# --- stack config ------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """ruamel's round-trip values as plain ones (dates and tagged scalars as their text, as the Pulumi CLI passes them)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, ScalarBoolean)):
        return None if value is None else bool(value)
    for kind in (int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return str(getattr(value, "value", value))


def _strip_secrets(value: Any) -> tuple[Any, bool]:
    """Replace every `secure:` value by a visible placeholder; say whether there was one."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECRET_PLACEHOLDER, True
        pairs = {k: _strip_secrets(v) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(s for _, s in pairs.values())
    if isinstance(value, list):
        items = [_strip_secrets(v) for v in value]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False


def _engine_text(value: Any) -> str:
    # Structured values travel as JSON text; scalars as their string form.
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return "a list" if isinstance(value, list) else f"the value {_plain(value)!r}"


def _config_block(document: Any, name: str) -> dict[str, Any]:
    """The `config:` mapping of a parsed stack file, or StackFileError saying what shape is wrong and where."""
    if document is None:
        raise StackFileError(f"{name}: the file is empty; a stack file has a config: mapping with the stack's settings")
    if not isinstance(document, dict):
        raise StackFileError(f"{name}:1:1: must be a mapping with a config: key, got {_kind(document)}")
    config = document.get("config")
    if not isinstance(config, dict):
        line, column = document.lc.key("config") if isinstance(document, CommentedMap) and "config" in document else (0, 0)
        raise StackFileError(f"{name}:{line + 1}:{column + 1}: config: must be a mapping of keys to values, got {_kind(config)}")
    return config


def app_settings(text: str, name: str, project: str, app: str) -> dict[str, Any] | None:
    """`apps.<app>` of a stack file's text as plain values (unvalidated: an old version may predate today's rules)."""
    config = _plain(_config_block(parse(text, name), name))
    apps = config.get(f"{project}:apps", config.get("apps"))
    settings = apps.get(app) if isinstance(apps, dict) else None
    return settings if isinstance(settings, dict) else None


def read_stack_config(path: Path, project: str) -> tuple[dict[str, str], list[str]]:
    """Return (config in engine form `namespace:key` -> text, keys holding secrets)."""
    config, secret_keys = {}, []
    for key, value in _plain(_config_block(_read(path), path.name)).items():
        full_key = key if ":" in key else f"{project}:{key}"
        value, secret = _strip_secrets(value)
        config[full_key] = _engine_text(value)
        if secret:
            secret_keys.append(full_key)
    return config, secret_keys
