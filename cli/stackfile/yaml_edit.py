"""Edit `Pulumi.<stack>.yaml` in place as `pulumi config set --path` would, keeping comments, order and quotes.

Only the edited scalar changes (or the removed key's line goes, as with `pulumi config rm --path`): ruamel.yaml's
round-trip mode keeps every comment, key order, flow map and quoting style; the indentation is read off the file.
Values keep `pulumi config set --path` types: a color is a string, a weight an integer.
"""

from __future__ import annotations

import difflib
import io
import itertools
import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.scalarstring import ScalarString
from ruamel.yaml.tokens import CommentToken

from cli.stackfile.read import parse


class UnsafeEdit(Exception):
    """The round trip would rewrite lines other than the edited ones (e.g. mixed indentation)."""


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _layout(text: str) -> tuple[int, int]:
    """(mapping indent, dash offset) as the file is written: `key:` then `  - item` or `- item` under it."""
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    parents = [(a, b) for a, b in itertools.pairwise(lines) if a.rstrip().endswith(":")]
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


class _Removed:
    """An edit's value that removes the key, as `pulumi config rm --path` does."""

    def __repr__(self) -> str:
        return "(removed)"


REMOVE: Any = _Removed()


def _parent(document: CommentedMap, project: str, key_path: str, create: bool = True) -> tuple[CommentedMap | None, str]:
    """The map holding a dotted config path's last key, and that key; missing maps are created, or with
    `create=False` the map is None."""
    top, *rest = key_path.split(".")
    config = document.setdefault("config", CommentedMap()) if create else document.get("config") or CommentedMap()
    parent, key = config, _config_key(config, project, top)
    for depth, child in enumerate(rest):
        node = parent.get(key)
        if not isinstance(node, dict):
            if not create:
                return None, child
            node = parent[key] = CommentedMap()
        _not_shared(node, ".".join([top, *rest[:depth]]))
        parent, key = node, child
    return parent, key


def _not_shared(node: CommentedMap, where: str) -> None:
    # An anchored map (`&ac`) is the same map wherever an alias (`*ac`) or merge (`<<: *ac`) uses it: an edit
    # through it would change every user, unseen in the diff of this one line. (A map that merges another one
    # is its own: a key set there overrides the merged one for it alone.)
    anchor = node.yaml_anchor()
    if anchor is not None and anchor.value:
        raise UnsafeEdit(f"{where} is the YAML anchor &{anchor.value}, shared by its aliases; an edit would change them too")


def set_path(document: CommentedMap, project: str, key_path: str, value: Any, after: str | None = None) -> None:
    """Set a dotted config path (map keys only), creating missing maps, like `pulumi config set --path`.

    A new key goes right after the key `after` when its map has one (so related keys stay together), else last.
    """
    parent, key = _parent(document, project, key_path)
    assert parent is not None  # created
    if key not in parent and after in parent:
        following = _take_following_lines(parent, after)
        parent.insert(list(parent).index(after) + 1, key, value)
        _add_following_lines(parent, key, following)
        return
    old = parent.get(key)
    # A quoted string stays quoted the same way: only the text changes.
    if isinstance(old, ScalarString) and isinstance(value, str):
        value = type(old)(value)
    parent[key] = value
    if old is not None and _mentions(_end_of_line_comment(parent, key), old):
        _drop_end_of_line_comment(parent, key)
    else:
        _keep_comment_gap(parent, key, old, value)


def _mentions(comment: str, value: Any) -> bool:
    """Whether a comment names a value as a word (`# blue serves 1.4.2` names blue): after the edit it would be
    stale, describing the old value."""
    return bool(comment) and re.search(rf"(?<![\w.-]){re.escape(str(value).lower())}(?![\w.-])", comment.lower()) is not None


def _end_of_line_comment(parent: CommentedMap, key: str) -> str:
    tokens = parent.ca.items.get(key)
    comment = tokens[2] if tokens and len(tokens) > 2 else None
    return comment.value.split("\n", 1)[0] if comment is not None else ""


def _drop_end_of_line_comment(parent: CommentedMap, key: str) -> None:
    tokens = parent.ca.items[key]
    following = tokens[2].value.split("\n", 1)[1] if "\n" in tokens[2].value else ""
    if following:  # the comment lines below the entry stay
        tokens[2].value = "\n" + following
    else:
        tokens[2] = None


def _block_lines(value: Any) -> int:
    """How many lines a block map or list value spans below its key (0 for a scalar or a flow collection)."""
    if not isinstance(value, (CommentedMap, CommentedSeq)) or not value or value.fa.flow_style():
        return 0
    out = io.StringIO()
    YAML().dump(value, out)
    return len([line for line in out.getvalue().splitlines() if line.strip() and not line.lstrip().startswith("#")])


def remove_path(document: CommentedMap, project: str, key_path: str) -> int:
    """Remove a dotted config path's key (a missing one is left missing), like `pulumi config rm --path`;
    returns the number of lines removed (the key's, and its block value's)."""
    parent, key = _parent(document, project, key_path, create=False)
    if parent is None or key not in parent:
        return 0
    lines = 1 + _block_lines(parent[key])
    keys = list(parent)
    following = _take_following_lines(parent, key)
    del parent[key]
    parent.ca.items.pop(key, None)
    before = keys[keys.index(key) - 1] if keys.index(key) else None
    # Comment lines below the removed key introduce the next key: they stay (with no key before them they are
    # dropped, and edit_text refuses the edit as more than one line).
    if before is not None:
        _add_following_lines(parent, before, following)
    return lines


def _comment_owner(node: CommentedMap, key: Any) -> tuple[CommentedMap, Any]:
    """Where ruamel keeps the comment lines that follow an entry: on the entry itself or, when its value is a
    block map, on that map's last entry (recursively)."""
    value = node[key]
    while isinstance(value, CommentedMap) and value and not value.fa.flow_style():
        node, key = value, list(value)[-1]
        value = node[key]
    return node, key


def _take_following_lines(node: CommentedMap, key: Any) -> str:
    """Detach the whole comment lines (and blank lines) below an entry; its end-of-line comment stays."""
    owner, last = _comment_owner(node, key)
    tokens = owner.ca.items.get(last)
    comment = tokens[2] if tokens and len(tokens) > 2 else None
    if comment is None:
        return ""
    # ruamel's text: `# end-of-line comment` (or nothing), a newline, then the lines below.
    own, following = comment.value.split("\n", 1)
    if own:
        comment.value = own + "\n"
    else:
        tokens[2] = None
    return following


def _add_following_lines(node: CommentedMap, key: Any, lines: str) -> None:
    if not lines:
        return
    owner, last = _comment_owner(node, key)
    tokens = owner.ca.items.setdefault(last, [None, None, None, None])
    if tokens[2] is None:
        tokens[2] = CommentToken("\n" + lines, CommentMark(0), None)
    else:
        tokens[2].value += lines


def _scalar_width(value: Any) -> int:
    return len(str(value).lower() if isinstance(value, bool) else str(value))


def _keep_comment_gap(parent: CommentedMap, key: str, old: Any, new: Any) -> None:
    # ruamel keeps an end-of-line comment at its old column; move it so the gap after the value stays the same.
    tokens = parent.ca.items.get(key)  # [.., .., end-of-line comment after the value, ..]
    comment = tokens[2] if tokens else None
    if comment is not None and old is not None:
        comment.column += _scalar_width(new) - _scalar_width(old)


def edit_text(text: str, project: str, edits: dict[str, Any], name: str = "stack file") -> str:
    """Apply {dotted key path: value or REMOVE} edits to a stack file's text (read from file `name`) and return the new text."""
    yaml = _yaml(text)
    document = parse(text, name, yaml) or CommentedMap()
    previous, allowed = "", 0
    for key_path, value in edits.items():
        if value is REMOVE:
            allowed += remove_path(document, project, key_path)
        else:
            allowed += 1
            # A key new to its map goes after the key edited just before it in the same map (activeColor, then
            # previousColor); otherwise last, as `pulumi config set` adds it.
            same_map = previous.rpartition(".")[0] == key_path.rpartition(".")[0]
            set_path(document, project, key_path, value, after=previous.rpartition(".")[2] if same_map else None)
        previous = key_path
    out = io.StringIO()
    yaml.dump(document, out)
    new_text = out.getvalue()
    # Each edit may replace at most its own line (a removal: its key's block); anything more would be an
    # unreviewed reformat.
    removed = [line for line in difflib.ndiff(text.splitlines(), new_text.splitlines()) if line.startswith("- ")]
    if len(removed) > allowed:
        raise UnsafeEdit("the edit would also rewrite: " + "; ".join(line[2:].strip() for line in removed[:3]))
    return new_text
