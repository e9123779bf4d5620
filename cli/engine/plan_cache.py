"""Offline plans kept by what they are a function of, so the same program and stack file are planned once.

The mock engine makes a plan a pure function of: the stack name, the stack file's bytes, the program (Pulumi.yaml,
__main__.py and every project package it imports, transitively, whole folders with their data files), this CLI
(it reads the stack file and runs the engine), the installed packages (their dist-info names carry the versions)
and Python. The key hashes all of those; anything else changing means another key, never a stale answer. A program
that opened other project files by path would have to list them here. Only plans that ran to the end are kept,
and only when their JSON form reads back equal to what the engine recorded.

`BLUEGREEN_PLAN_CACHE`: the folder (default `$XDG_CACHE_HOME/bluegreen-platform/plans`, i.e. under `~/.cache`),
or `off`. Keep it private to the machine: never restore it from a cache a merge request's job can write.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
import sysconfig
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from cli.engine.recording import Invoke, Recording, Registration

CACHE_ENV = "BLUEGREEN_PLAN_CACHE"
FORMAT = "1"  # bump when the stored form changes
KEEP = 400  # entries (about 100 KB each for a stack like stg); the least recently used beyond this are removed
MAX_TREE_BYTES = 64 * 1024 * 1024  # a program bigger than this is planned every time rather than hashed
_ENGINE = Path(__file__).resolve().parents[1]  # this CLI: it reads the stack file and runs the engine


def cache_dir() -> Path | None:
    setting = os.environ.get(CACHE_ENV, "")
    if setting == "off":
        return None
    if setting:
        return Path(setting)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "bluegreen-platform" / "plans"


def _files(top: Path) -> list[Path]:
    found = []
    for folder, dirs, names in os.walk(top):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        found += [Path(folder, name) for name in sorted(names) if not name.endswith(".pyc")]
    return found


_IMPORT = re.compile(r"^\s*(?:from|import)\s+([A-Za-z_]\w*)", re.MULTILINE)


@dataclass(frozen=True)
class PlanKey:
    digest: str
    root: Path
    packages: tuple[str, ...]  # the project packages (or modules) the program imports
    stack: str
    stack_file: Path


def _program(root: Path) -> tuple[list[str], list[Path]]:
    """The project packages (or modules) the program imports, transitively, and its files with theirs."""
    files = [root / "Pulumi.yaml", root / "__main__.py"]
    names: list[str] = []
    seen: set[str] = set()
    pending = [files[1]]
    while pending:
        source = pending.pop()
        for name in _IMPORT.findall(source.read_text(encoding="utf-8", errors="replace")):
            if name in seen:
                continue
            seen.add(name)
            package, module = root / name, root / f"{name}.py"
            found = _files(package) if package.is_dir() else [module] if module.is_file() else []
            if found:
                names.append(name)
            files += found
            pending += [f for f in found if f.suffix == ".py"]
    return names, files


def _loaded_elsewhere(root: Path, packages: tuple[str, ...]) -> bool:
    """A project package this process already imported from another folder: a plan here runs that code, not
    root's (one `components` per process), so it must neither answer for root's key nor be kept under it."""
    top = root.resolve()
    for name in packages:
        location = getattr(sys.modules.get(name), "__file__", None)
        if location and not Path(location).resolve().is_relative_to(top):
            return True
    return False


def _packages() -> list[str]:
    folders = dict.fromkeys(sysconfig.get_paths()[kind] for kind in ("purelib", "platlib"))
    return sorted(name for folder in folders if os.path.isdir(folder) for name in os.listdir(folder) if name.endswith(".dist-info"))


def plan_key(stack: str, root: Path, stack_file: Path) -> PlanKey | None:
    """The plan's key, or None when it is not to be cached (cache off; a program too big to hash, unreadable or
    already loaded from elsewhere)."""
    if cache_dir() is None:
        return None
    digest = hashlib.sha256("\0".join([FORMAT, stack, sys.version, *_packages()]).encode())
    total = 0
    try:
        names, files = _program(root)
        if _loaded_elsewhere(root, tuple(names)):
            return None
        for label, top, paths in (("engine", _ENGINE, _files(_ENGINE)), ("project", root, files)):
            for path in paths:
                data = path.read_bytes()
                total += len(data)
                if total > MAX_TREE_BYTES:
                    return None
                digest.update(f"\0{label}/{path.relative_to(top).as_posix()}\0{len(data)}\0".encode())
                digest.update(data)
        digest.update(b"\0stack file\0" + stack_file.read_bytes())
    except OSError:  # a file that can't be read (a dangling link, one going away): planned, not cached
        return None
    return PlanKey(digest.hexdigest(), root, tuple(names), stack, stack_file)


def _as_json(recording: Recording) -> dict:
    return {
        "resources": [r.as_json() for r in recording.resources],
        "invokes": [asdict(i) for i in recording.invokes],
        "outputs": recording.outputs,
        "warnings": recording.warnings,
        "reads": recording.reads,
    }


def _from_json(data: dict) -> Recording:
    return Recording(
        resources=[Registration(**r) for r in data["resources"]],
        invokes=[Invoke(**i) for i in data["invokes"]],
        outputs=data["outputs"],
        warnings=data["warnings"],
        reads=[(r[0], r[1], r[2]) for r in data["reads"]],
    )


def load(key: PlanKey | None) -> Recording | None:
    folder = cache_dir()
    if key is None or folder is None:
        return None
    entry = folder / f"{key.digest}.json"
    try:
        recording = _from_json(json.loads(entry.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return None  # absent, or not an entry this version wrote: plan again
    with contextlib.suppress(OSError):  # a cache this user may read but not write
        os.utime(entry)  # recently used
    return recording


def store(key: PlanKey | None, recording: Recording) -> None:
    """Keep `recording` under `key`: written whole (a temp file renamed in), never a form that reads back different."""
    folder = cache_dir()
    # Keyed again: a file changed while it planned (this plan may be of neither version), or the program's packages
    # now come from elsewhere, and it is not kept.
    if key is None or folder is None or plan_key(key.stack, key.root, key.stack_file) != key:
        return
    try:
        text = json.dumps(_as_json(recording), separators=(",", ":"))
    except (TypeError, ValueError):
        return
    if _from_json(json.loads(text)) != recording:
        return  # something JSON can't carry (a tuple, a non-string key): not cached, planned again next time
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor, temp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(temp, folder / f"{key.digest}.json")
        except OSError:
            Path(temp).unlink(missing_ok=True)
            raise
        _prune(folder)
    except OSError:  # a full or read-only cache never fails a plan
        return


STALE_TEMP_SECONDS = 3600  # a temp file this old was left by a killed plan


def _prune(folder: Path) -> None:
    entries = []
    now = time.time()
    for entry in folder.iterdir():
        try:
            modified = entry.stat().st_mtime
        except OSError:
            continue
        if entry.name.endswith(".json"):
            entries.append((modified, entry))
        elif entry.name.endswith(".tmp") and now - modified > STALE_TEMP_SECONDS:
            entry.unlink(missing_ok=True)
    for _, entry in sorted(entries, reverse=True)[KEEP:]:
        entry.unlink(missing_ok=True)
