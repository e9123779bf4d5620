"""Edit `Pulumi.<stack>.yaml` in place as `pulumi config set --path` would, keeping comments, order and quotes.

Only the edited scalar changes: ruamel.yaml's round-trip mode keeps every comment, key order, flow map and
quoting style; the indentation is read off the file. Values keep `pulumi config set --path` types: a color is
a string, a weight an integer.
"""
from __future__ import annotations

import difflib
import io
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import ScalarString

from .stackfile import parse


class UnsafeEdit(Exception):
    """The round trip would rewrite lines other than the edited ones (e.g. mixed indentation)."""


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _layout(text: str) -> tuple[int, int]:
    """(mapping indent, dash offset) as the file is written: `key:` then `  - item` or `- item` under it."""
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    parents = [(a, b) for a, b in zip(lines, lines[1:]) if a.rstrip().endswith(":")]
    maps = [_indent(b) - _indent(a) for a, b in parents if _indent(b) > _indent(a) and not b.lstrip().startswith("- ")]
    dashes = [_indent(b) - _indent(a) for a, b in parents if _indent(b) >= _indent(a) and b.lstrip().startswith("- ")]
    return (maps[0] if maps else 2), (dashes[0] if dashes else 2)


def _yaml(text: str) -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    # ruamel re-indents everything with one setting, so it is read off the file itself.
    mapping, offset = _layout(text)
    yaml.indent(mapping=mapping, sequence=offset + 2, offset=offset)
    yaml.width = 4096  # never re-wrap long lines such as image references
    return yaml


def _config_key(config: CommentedMap, project: str, key: str) -> str:
    """The stack file's spelling of a top-level key: `<project>:<key>` (Pulumi's form) or a bare key already there."""
    return key if key in config and f"{project}:{key}" not in config else f"{project}:{key}"


def set_path(document: CommentedMap, project: str, key_path: str, value: Any) -> None:
    """Set a dotted config path (map keys only), creating missing maps, like `pulumi config set --path`."""
    top, *rest = key_path.split(".")
    config = document.setdefault("config", CommentedMap())
    parent, key = config, _config_key(config, project, top)
    for child in rest:
        node = parent.get(key)
        if not isinstance(node, dict):
            node = parent[key] = CommentedMap()
        parent, key = node, child
    old = parent.get(key)
    # A quoted string stays quoted the same way: only the text changes.
    if isinstance(old, ScalarString) and isinstance(value, str):
        value = type(old)(value)
    parent[key] = value
    _keep_comment_gap(parent, key, old, value)


def _scalar_width(value: Any) -> int:
    return len(str(value).lower() if isinstance(value, bool) else str(value))


def _keep_comment_gap(parent: CommentedMap, key: str, old: Any, new: Any) -> None:
    # ruamel keeps an end-of-line comment at its old column; move it so the gap after the value stays the same.
    tokens = parent.ca.items.get(key)  # [.., .., end-of-line comment after the value, ..]
    comment = tokens[2] if tokens else None
    if comment is not None and old is not None:
        comment.column += _scalar_width(new) - _scalar_width(old)


def edit_text(text: str, project: str, edits: dict[str, Any], name: str = "stack file") -> str:
    """Apply {dotted key path: value} edits to a stack file's text (read from file `name`) and return the new text."""
    yaml = _yaml(text)
    document = parse(text, name, yaml) or CommentedMap()
    for key_path, value in edits.items():
        set_path(document, project, key_path, value)
    out = io.StringIO()
    yaml.dump(document, out)
    new_text = out.getvalue()
    # Each edit may replace at most its own line; anything more would be an unreviewed reformat.
    removed = [line for line in difflib.ndiff(text.splitlines(), new_text.splitlines()) if line.startswith("- ")]
    if len(removed) > len(edits):
        raise UnsafeEdit("the edit would also rewrite: " + "; ".join(line[2:].strip() for line in removed[:3]))
    return new_text

