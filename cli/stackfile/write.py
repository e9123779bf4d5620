"""Replace a stack file with its edited text so that nothing but the edited lines changes, on disk too.

The edit is written to a staged copy beside the file's target (a symlinked stack file is edited where it lives;
the link stays), checked, then renamed over the target: a reader sees the old file or the new one, never half.
The copy keeps what the text alone does not carry: the file's mode, its line endings (CRLF stays CRLF) and a
UTF-8 BOM. A read-only file is refused instead of being replaced by a writable one.

Staged copies are named `.Pulumi.<stack>.yaml.<random>.edit` (ignored by git). Every guarded edit holds the
stack file's lock while its copy exists (cli/stackfile/lock.py), so one found under the lock was left by an edit that
was killed (kill -9, a power cut): the next edit removes it.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from cli.stackfile.read import UTF8_BOM, StackFileError, decode

T = TypeVar("T")
STAGED_SUFFIX = ".edit"


class NotWritable(Exception):
    """The stack file is read-only or its layout cannot be kept; the message says which and what to do."""


@dataclass(frozen=True)
class Layout:
    """What the file's bytes carry besides its text."""

    crlf: bool = False
    bom: bool = False

    def bytes_of(self, text: str) -> bytes:
        return ((UTF8_BOM if self.bom else "") + (text.replace("\n", "\r\n") if self.crlf else text)).encode()


def read(path: Path) -> tuple[str, Layout]:
    """The stack file's text with `\\n` line ends and no BOM, and the layout to write it back with; StackFileError
    for a file `cli.stackfile` refuses, NotWritable for one whose layout an edit cannot keep."""
    target = path.resolve()
    try:
        data = target.read_bytes()
    except OSError as err:
        raise StackFileError(f"{path.name}: cannot be read ({err.strerror})") from None
    text = decode(data, path.name)
    crlf = b"\r\n" in data
    if crlf and data.count(b"\n") != data.count(b"\r\n"):
        raise NotWritable(f"{path.name} mixes CRLF and LF line endings; make them one kind first, then edit")
    return text.replace("\r\n", "\n"), Layout(crlf=crlf, bom=data.startswith(UTF8_BOM.encode()))


def check_writable(path: Path) -> None:
    mode = stat.S_IMODE(path.resolve().stat().st_mode)
    if not mode & stat.S_IWUSR:
        raise NotWritable(f"{path.name} is read-only (mode {mode:o}): nothing written; make it writable (chmod u+w) to edit it")


def remove_stale(path: Path) -> list[Path]:
    """Remove staged copies left by killed edits of `path` (call with its lock held); returns them."""
    target = path.resolve()
    stale = sorted(target.parent.glob(f".{target.name}.*{STAGED_SUFFIX}"))
    for leftover in stale:
        leftover.unlink(missing_ok=True)
    return stale


def replace(path: Path, text: str, layout: Layout, check: Callable[[Path], T]) -> T:
    """Stage `text` beside `path`'s target with its mode and `layout`, run `check` on the staged copy (raising
    leaves the file as it was), then rename the copy over the target; returns what `check` returned."""
    target = path.resolve()
    check_writable(path)
    mode = stat.S_IMODE(target.stat().st_mode)
    fd, staged_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=STAGED_SUFFIX, dir=target.parent)
    staged = Path(staged_name)
    try:
        with os.fdopen(fd, "wb") as staged_file:
            staged_file.write(layout.bytes_of(text))
            os.fchmod(staged_file.fileno(), mode)  # mkstemp makes it 600: the file keeps the mode it had
            staged_file.flush()
            os.fsync(staged_file.fileno())  # the rename must never publish a file whose bytes are not on disk
        result = check(staged)
        os.replace(staged, target)
    finally:
        staged.unlink(missing_ok=True)
    return result
