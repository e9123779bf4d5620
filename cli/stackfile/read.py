"""The one reader of `Pulumi.yaml` and `Pulumi.<stack>.yaml`: config the way the Pulumi CLI hands it to a program.

Every command reads stack files through `parse`, so a broken file gets the same one-line answer everywhere:
`Pulumi.stg.yaml:69:21: <what is wrong>` (1-based line and column). Like the Pulumi CLI, a duplicate key is an
error, never a silent "last one wins".

A stack file is reviewed text, so a hostile one is refused before it costs time or memory: more than MAX_BYTES (256 KiB),
bytes that are not UTF-8, nesting deeper than the parser's stack, or aliases that expand to more than
MAX_ALIAS_VALUES values (a "billion laughs" bomb is a few hundred bytes). Aliases are resolved by reference, so they
are counted without being expanded.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, StreamMark
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.scalarbool import ScalarBoolean

SECRET_PLACEHOLDER = "[secret: not decrypted by the offline plan]"
PROJECT_FILE = "Pulumi.yaml"
# A real stack file is a few KiB. The YAML parser is pure Python (about 1.5 s per 256 KiB on a busy 2-core
# machine), so the limit is what keeps any file's refusal or plan within a second or two.
MAX_BYTES = 256 * 1024
MAX_ALIAS_VALUES = 10_000  # values aliases may add once expanded: a real file's anchors add a few dozen
MAX_DEPTH = 64  # nested [ and {: a real file has 4 or 5; the parser's time grows with the square of the depth
MAX_INDENT = 256  # columns of indentation (and compact `- - -`): block nesting, bounded the same way
UTF8_BOM = "\ufeff"
_BRACKET = re.compile(r"[\[\]{}]")
_DEEP_INDENT = re.compile(rf"^[ -]{{{MAX_INDENT},}}", re.MULTILINE)


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


def _too_big(name: str, size: int) -> StackFileError:
    return StackFileError(f"{name}: {size // 1024} KiB, over the {MAX_BYTES // 1024} KiB limit for a stack file (a real one is a few KiB)")


def decode(data: bytes, name: str) -> str:
    """A stack file's bytes as text (a UTF-8 BOM dropped); StackFileError with the line and column of the first byte
    that is not UTF-8, or for a file over MAX_BYTES."""
    if len(data) > MAX_BYTES:
        raise _too_big(name, len(data))
    try:
        return data.decode("utf-8").removeprefix(UTF8_BOM)
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise StackFileError(f"{name}:{line}:{column}: byte 0x{data[err.start]:02x} is not UTF-8; a stack file is UTF-8 text") from None


def _alias_values(document: Any) -> int:
    """How many values aliases add to `document` when expanded (0 without aliases), counted without expanding
    them: each node is walked once, a node used again adds its expanded size; a node inside itself is endless."""
    sizes: dict[int, int] = {}
    added = 0

    def size(node: Any) -> int:
        nonlocal added
        if not isinstance(node, (dict, list)):
            return 1
        if id(node) in sizes:  # a second use of the node: an alias
            added += sizes[id(node)]
            return sizes[id(node)]
        sizes[id(node)] = MAX_ALIAS_VALUES + 1  # until known: a node reached again inside itself is endless
        children = list(node.values()) if isinstance(node, dict) else node
        sizes[id(node)] = min(1 + sum(size(child) for child in children), MAX_ALIAS_VALUES + 1)
        return sizes[id(node)]

    size(document)
    return added


def _too_deep(text: str, name: str) -> StackFileError | None:
    """Nesting the parser would take seconds over (or exhaust Python's stack on), found by a linear scan. Brackets
    inside quotes count too: a value with dozens of unmatched `[` is no real config either."""
    depth = 0
    for match in _BRACKET.finditer(text):
        depth = depth + 1 if match.group() in "[{" else max(0, depth - 1)
        if depth > MAX_DEPTH:
            line = text.count("\n", 0, match.start()) + 1
            column = match.start() - (text.rfind("\n", 0, match.start()) + 1) + 1
            return StackFileError(f"{name}:{line}:{column}: nested more than {MAX_DEPTH} levels deep; not a stack file")
    deep = _DEEP_INDENT.search(text)
    if deep:
        line = text.count("\n", 0, deep.start()) + 1
        return StackFileError(f"{name}:{line}:1: indented {MAX_INDENT} or more columns deep; not a stack file")
    return None


def parse(text: str, name: str, yaml: YAML | None = None) -> Any:
    """The YAML document in `text`, read from file `name`; StackFileError for a syntax error, a duplicate key, or a
    hostile file (too big, too deep, an alias bomb).

    `yaml` is the loader to use (default: ruamel's round trip, YAML 1.2, duplicate keys refused).
    """
    if len(text) > MAX_BYTES:
        raise _too_big(name, len(text.encode()))
    deep = _too_deep(text, name)
    if deep:
        raise deep
    loader = yaml or YAML()
    try:
        document = loader.load(text)
    except RecursionError:
        raise StackFileError(f"{name}: nested too deeply to be a stack file") from None
    except ReaderError as err:  # a control character such as NUL: no mark, a position in the text
        line = text.count("\n", 0, err.position) + 1
        column = err.position - (text.rfind("\n", 0, err.position) + 1) + 1
        raise StackFileError(f"{name}:{line}:{column}: character #x{err.character:04x} is not allowed in YAML") from None
    except ValueError as err:  # e.g. an integer of thousands of digits, refused by Python's int()
        raise StackFileError(f"{name}: a value cannot be read ({err})") from None
    except DuplicateKeyError as err:
        mark = err.problem_mark
        found = _duplicate(loader.compose(text), mark)
        what = f"{found[0]} (first at line {found[1]})" if found else str(err.problem)
        raise StackFileError(f"{_at(name, mark)}: duplicate key {what}") from None
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = _at(name, mark) if mark is not None else name
        raise StackFileError(f"{where}: {_problem(err)}") from None
    if _alias_values(document) > MAX_ALIAS_VALUES:
        raise StackFileError(f"{name}: its aliases expand to more than {MAX_ALIAS_VALUES} values (a YAML alias bomb); not read")
    return document


def read_text(path: Path) -> str:
    """A stack or project file's text (see `decode`); StackFileError when it cannot be read or is refused."""
    try:
        if path.stat().st_size > MAX_BYTES:  # refused before a byte of it is read
            raise _too_big(path.name, path.stat().st_size)
        data = path.read_bytes()
    except OSError as err:
        raise StackFileError(f"{path.name}: cannot be read ({err.strerror})") from None
    return decode(data, path.name).replace("\r\n", "\n")


def _read(path: Path) -> Any:
    return parse(read_text(path), path.name)


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
    _check_secrets(config, name, "config")
    return config


# What `pulumi config set --secret` writes: base64 ciphertext, with the passphrase provider `v1:<nonce>:<data>`.
_CIPHERTEXT = re.compile(r"^[A-Za-z0-9+/=:_-]+$")


def _check_secrets(node: Any, name: str, path: str) -> None:
    """A `secure:` value that is not ciphertext is malformed, said so here: left to the config model, it would be
    `must be a whole number, got '[secret: ...]'`, or decrypted into nonsense by `pulumi up`."""
    if isinstance(node, dict):
        if "secure" in node:
            value = node["secure"]
            if set(node) != {"secure"} or not isinstance(value, str) or not _CIPHERTEXT.match(value):
                line, column = node.lc.key("secure") if isinstance(node, CommentedMap) else (0, 0)
                extra = f" and other keys ({', '.join(sorted(str(k) for k in node if k != 'secure'))})" if set(node) != {"secure"} else ""
                raise StackFileError(
                    f"{name}:{line + 1}:{column + 1}: {path}: malformed secure: value{extra}: `pulumi config set --secret` "
                    f"writes the ciphertext alone, as base64 text; got {_plain(value)!r}"
                )
        for key, child in node.items():
            _check_secrets(child, name, f"{path}.{key}")
    elif isinstance(node, list):
        for index, child in enumerate(node):
            _check_secrets(child, name, f"{path}.{index}")


def all_app_settings(text: str, name: str, project: str) -> dict[str, Any]:
    """`apps` of a stack file's text as plain values (unvalidated: an old version may predate today's rules)."""
    config = _plain(_config_block(parse(text, name), name))
    apps = config.get(f"{project}:apps", config.get("apps"))
    return apps if isinstance(apps, dict) else {}


def app_settings(text: str, name: str, project: str, app: str) -> dict[str, Any] | None:
    """`apps.<app>` of a stack file's text as plain values, or None."""
    settings = all_app_settings(text, name, project).get(app)
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
