"""Issue 19.1: concurrent guarded edits of one stack file never lose one (cli/stackfile/lock.py)."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import yaml

from cli.edits import changes, guarded
from cli.stackfile import lock
from tests.conftest import PROJECT, ROOT
from tests.stackfiles import copy_program, write_stack

ROUNDS = 20


@pytest.fixture
def project(tmp_path, config):
    """A stg stack with two apps, front and api, both on blue with green deployed."""
    api = copy.deepcopy(config["apps"]["front"])
    api.update(namespace="api", hosts=["api.apps.example.com"])
    config["apps"]["api"] = api
    copy_program(tmp_path)
    write_stack(tmp_path, "stg", config)
    return tmp_path


def apps(project):
    return yaml.safe_load((project / "Pulumi.stg.yaml").read_text())["config"][f"{PROJECT}:apps"]


def cli(project, *args):
    command = [sys.executable, "-m", "cli", *args, "--stack", "stg", "--root", str(project)]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def worker(project):
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.cli.stackfile.edit_worker", str(project)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline() == "ready\n"
    return process


def test_two_flips_of_different_apps_started_together_both_land_every_round(project):
    front, api = worker(project), worker(project)
    try:
        for round_ in range(ROUNDS):
            color = ("green", "blue")[round_ % 2]
            for process, app in ((front, "front"), (api, "api")):
                process.stdin.write(f"{app} {color}\n")
                process.stdin.flush()
            answers = [front.stdout.readline(), api.stdout.readline()]
            assert all(a.startswith("ok ") for a in answers), answers
            now = apps(project)
            assert (round_, now["front"]["activeColor"], now["api"]["activeColor"]) == (round_, color, color)
    finally:
        for process in (front, api):
            process.stdin.close()
            process.wait(timeout=30)


def test_flip_and_canary_of_one_app_started_together_the_second_sees_the_first(project):
    flip, canary = cli(project, "flip", "--app", "front", "--to", "green"), cli(project, "canary", "--app", "front", "--weight", "10")
    (flip_out, flip_err), (canary_out, canary_err) = flip.communicate(timeout=120), canary.communicate(timeout=120)
    assert (flip.returncode, canary.returncode) == (0, 0), (flip_out, flip_err, canary_out, canary_err)
    front = apps(project)["front"]
    assert (front["activeColor"], front["previousColor"]) == ("green", "blue")  # the flip is never lost
    if front["canaryWeight"] == 10:  # the canary came second: it splits the flipped app, green stays active
        assert "traffic: front: green 100% -> green 90% / blue 10%" in canary_out
    else:  # the flip came second: it read the canary and ended it
        assert front["canaryWeight"] == 0
        assert "traffic: front: blue 100% -> blue 90% / green 10%" in canary_out
        assert "traffic: front: blue 90% / green 10% -> green 100%" in flip_out


def test_an_edit_waits_for_the_lock_says_so_after_a_second_then_applies_on_top(project):
    path = project / "Pulumi.stg.yaml"
    with lock.locked(path, say=print):
        flip = cli(project, "flip", "--app", "front", "--to", "green")
        # However long the flip takes to start on a busy machine: its line comes once it has waited a second.
        assert flip.stderr is not None
        said = ""
        while "waiting for" not in said and (line := flip.stderr.readline()):
            said += line
        assert flip.poll() is None, said  # still waiting
        # The holder's own edit, written while the flip waits: the flip must plan on top of it.
        path.write_text(path.read_text().replace("canaryWeight: 0", "canaryWeight: 20", 1))
    out, err = flip.communicate(timeout=120)
    assert flip.returncode == 0, out + said + err
    assert (said + err).count("waiting for another edit of Pulumi.stg.yaml to finish") == 1
    assert "traffic: front: blue 80% / green 20% -> green 100%" in out
    assert apps(project)["front"]["canaryWeight"] == 0


def test_a_lock_held_too_long_refuses_the_edit_and_writes_nothing(project, monkeypatch):
    path = project / "Pulumi.stg.yaml"
    before = path.read_text()
    monkeypatch.setattr(lock, "TIMEOUT_SECONDS", 0.3)
    said: list[str] = []
    refusal = pytest.raises(changes.Refused, match=r"another edit of Pulumi.stg.yaml has held it for 0s.*nothing written")
    with lock.locked(path, say=said.append), refusal:  # another open file description: flock conflicts
        guarded.edit(project, "stg", lambda config: changes.plan_flip(config, "front", "green"), say=said.append)
    assert path.read_text() == before
    assert said == []  # under a second: no waiting line


def test_a_waiter_locks_the_file_renamed_into_place_not_the_replaced_one(project):
    path = project / "Pulumi.stg.yaml"
    with lock.locked(path, say=print):
        replacement = project / "new.yaml"
        replacement.write_text(path.read_text())
        replacement.replace(path)
    # The new inode is free; a lock on it excludes a second locker of the same path.
    with lock.locked(path, say=print), pytest.raises(lock.LockTimeout), lock.locked(path, say=print, timeout=0.2):
        pass
