"""The Python pins: requirements*.txt name direct dependencies, the constraints files lock everything, and they agree."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from packaging.utils import canonicalize_name

from tests.conftest import ROOT

LOCK = ROOT / "constraints.txt"
POLICY_LOCK = ROOT / "policies" / "constraints.txt"
REQUIREMENTS = [ROOT / "requirements.txt", ROOT / "requirements-dev.txt", ROOT / "policies" / "requirements.txt"]


def pins(path: Path) -> dict[str, str]:
    """`name==version` lines of a requirements or constraints file, by canonical name (options and comments skipped)."""
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+)", line)
        assert match, f"{path.name}: {line!r} is not pinned with =="
        found[canonicalize_name(match.group(1))] = match.group(2)
    return found


def test_every_requirements_file_uses_its_lock():
    for path in (ROOT / "requirements.txt", ROOT / "policies" / "requirements.txt"):
        assert "-c constraints.txt" in path.read_text().splitlines(), f"{path.relative_to(ROOT)} must apply its constraints"


def test_direct_pins_match_the_locks():
    lock, policy_lock = pins(LOCK), pins(POLICY_LOCK)
    for path in REQUIREMENTS:
        for name, version in pins(path).items():
            assert lock.get(name) == version, f"{path.relative_to(ROOT)}: {name}=={version}, constraints.txt has {lock.get(name)}"
    for name, version in pins(ROOT / "policies" / "requirements.txt").items():
        assert policy_lock.get(name) == version, f"policies/constraints.txt has {name}=={policy_lock.get(name)}, not {version}"


def test_the_policy_lock_agrees_with_the_project_lock():
    lock = pins(LOCK)
    disagree = {name: (version, lock.get(name)) for name, version in pins(POLICY_LOCK).items() if lock.get(name) != version}
    assert disagree == {}, "policies/venv and ./venv must run the same versions (make lock)"


def test_this_venv_is_exactly_the_lock():
    """The interpreter running the tests was installed from the lock: nothing unlocked, nothing at another version."""
    installed = {
        canonicalize_name(dist.metadata["Name"]): dist.version
        for dist in metadata.distributions()
        if canonicalize_name(dist.metadata["Name"]) not in {"pip", "setuptools", "wheel"}
    }
    assert installed == pins(LOCK)
