"""Issue 19.2: a guarded edit changes only the lines it means to, on disk too (cli/stackfile/write.py, yaml_edit.py).

Mode, symlink target, CRLF line endings, a BOM and aliases elsewhere are kept; a comment describing the old
value goes with it; an edit killed at any moment leaves the file whole and nothing else behind.
"""

from __future__ import annotations

import difflib
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from cli.__main__ import app as cli_app
from cli.stackfile.yaml_edit import UnsafeEdit, edit_text
from tests.conftest import PROJECT, ROOT
from tests.stackfiles import copy_program, git, write_stack

FLIP = ["flip", "--app", "front", "--to", "green"]
KILLS = 4  # kills at random moments, besides the four at the moments that matter


@pytest.fixture
def project(tmp_path, config):
    copy_program(tmp_path)
    write_stack(tmp_path, "stg", config)
    return tmp_path


def run(project, *args):
    return CliRunner().invoke(cli_app, [*args, "--stack", "stg", "--root", str(project)])


def changed_lines(before: str, after: str) -> list[str]:
    return [line for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line[:2] in ("- ", "+ ")]


def leftovers(directory):
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".edit"))


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o600])
def test_the_file_keeps_its_mode(project, mode):
    path = project / "Pulumi.stg.yaml"
    path.chmod(mode)
    assert run(project, *FLIP).exit_code == 0
    assert (path.stat().st_mode & 0o777, "activeColor: green" in path.read_text()) == (mode, True)


def test_a_read_only_file_is_refused_not_rewritten(project):
    path = project / "Pulumi.stg.yaml"
    path.chmod(0o444)
    before, inode = path.read_bytes(), path.stat().st_ino
    result = run(project, *FLIP)
    assert result.exit_code == 1
    assert (
        result.output.strip()
        == "refused: Pulumi.stg.yaml is read-only (mode 444): nothing written; make it writable (chmod u+w) to edit it"
    )
    assert (path.read_bytes(), path.stat().st_ino, path.stat().st_mode & 0o777) == (before, inode, 0o444)


def test_a_symlinked_stack_file_is_edited_at_its_target_and_stays_a_link(project):
    (project / "stacks").mkdir()
    target = project / "stacks" / "stg.yaml"
    (project / "Pulumi.stg.yaml").rename(target)
    (project / "Pulumi.stg.yaml").symlink_to("stacks/stg.yaml")
    assert run(project, *FLIP).exit_code == 0
    assert os.readlink(project / "Pulumi.stg.yaml") == "stacks/stg.yaml"
    assert "activeColor: green" in target.read_text()
    assert leftovers(project) == leftovers(project / "stacks") == []


def test_crlf_line_endings_and_a_bom_are_kept(project):
    path = project / "Pulumi.stg.yaml"
    text = path.read_text()
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    assert run(project, *FLIP).exit_code == 0
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and data.count(b"\n") == data.count(b"\r\n") == text.count("\n") + 1
    after = data[3:].decode().replace("\r\n", "\n")
    assert all("activeColor" in line or "previousColor" in line for line in changed_lines(text, after))
    assert "activeColor: green" in after


def test_mixed_line_endings_are_refused(project):
    path = project / "Pulumi.stg.yaml"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n", 3))
    before = path.read_bytes()
    result = run(project, *FLIP)
    assert result.exit_code == 1 and "mixes CRLF and LF line endings" in result.output
    assert path.read_bytes() == before


ALIASED = f"""config:
  {PROJECT}:apps:
    front:
      activeColor: blue  # blue serves 1.4.2, green has 1.5.0 for preview
      previousColor: green  # what a rollback returns to
      canaryWeight: 10  # green takes 10% while it bakes
      blue: &ac {{image: r/a:1, replicas: 3}}
      green: *ac
"""


def test_an_alias_elsewhere_stays_as_it_was_and_a_stale_comment_goes():
    after = edit_text(
        ALIASED, PROJECT, {"apps.front.activeColor": "green", "apps.front.previousColor": "blue", "apps.front.canaryWeight": 0}
    )
    assert sorted(changed_lines(ALIASED, after)) == [
        "+       activeColor: green",
        "+       canaryWeight: 0",
        "+       previousColor: blue  # what a rollback returns to",
        "-       activeColor: blue  # blue serves 1.4.2, green has 1.5.0 for preview",
        "-       canaryWeight: 10  # green takes 10% while it bakes",
        "-       previousColor: green  # what a rollback returns to",
    ]
    assert "      blue: &ac {image: r/a:1, replicas: 3}\n      green: *ac\n" in after


def test_an_edit_through_an_anchored_map_is_refused():
    with pytest.raises(UnsafeEdit, match=r"apps.front.blue is the YAML anchor &ac, shared by its aliases"):
        edit_text(ALIASED, PROJECT, {"apps.front.blue.replicas": 0})


def test_a_staged_copy_left_by_a_killed_edit_is_removed_by_the_next_edit(project):
    stale = project / ".Pulumi.stg.yaml.abc123.edit"
    stale.write_text("half an edit")
    assert run(project, "status").exit_code == 0 and stale.exists()  # reading commands leave it alone
    assert run(project, *FLIP).exit_code == 0
    assert leftovers(project) == []


def test_git_status_after_random_kill_9s_shows_at_most_the_completed_edit(project):
    shutil.copy2(ROOT / ".gitignore", project / ".gitignore")  # the project's own: it ignores staged copies
    git(project, "init", "-q")
    git(project, "add", ".")
    git(project, "commit", "-qm", "stack")
    original = (project / "Pulumi.stg.yaml").read_text()
    command = [sys.executable, "-m", "cli", *FLIP, "--stack", "stg", "--root", str(project)]
    started = time.monotonic()
    assert subprocess.run(command, cwd=ROOT, capture_output=True).returncode == 0
    whole_run = time.monotonic() - started
    flipped = (project / "Pulumi.stg.yaml").read_text()
    # Two kills each in the two moments that matter, whatever the machine's speed: while the staged copy is
    # checked (before the rename) and once the renamed file is there; the rest at random in one whole run.
    rng, outcomes = random.Random(19), set()
    moments: list[str | float] = ["staged", "renamed"] * 2 + [rng.uniform(0.05, whole_run) for _ in range(KILLS)]
    for moment in moments:
        git(project, "checkout", "-q", "--", "Pulumi.stg.yaml")
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if moment == "staged":
            wait_until(process, lambda: leftovers(project) != [])
        elif moment == "renamed":
            wait_until(process, lambda: (project / "Pulumi.stg.yaml").read_text() == flipped)
        else:
            time.sleep(float(moment))
        process.send_signal(signal.SIGKILL)
        process.wait()
        status = git(project, "status", "--porcelain", "--untracked-files=all")
        text = (project / "Pulumi.stg.yaml").read_text()
        assert status in ("", " M Pulumi.stg.yaml\n"), status
        assert text in (original, flipped)
        outcomes.add(text == flipped)
    run(project, "status")
    assert outcomes == {True, False}  # the kills landed both before and after the rename


def wait_until(process: subprocess.Popen, condition, limit: float = 60.0) -> None:
    """Until `condition()` holds or the process has ended, looking every 5 ms."""
    deadline = time.monotonic() + limit
    while not condition() and process.poll() is None:
        assert time.monotonic() < deadline, f"not within {limit}s"
        time.sleep(0.005)
