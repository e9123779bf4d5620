"""cli/stackfile/history: an app's settings just before its last flip, from the stack file's git history."""

from __future__ import annotations

import copy

from cli.stackfile.history import settings_before_flip
from tests.conftest import PROJECT
from tests.stackfiles import git, write_stack


def commit(repo, raw, message):
    write_stack(repo, "stg", raw)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", message)


def flipped(raw, to="green", previous="blue"):
    raw = copy.deepcopy(raw)
    raw["apps"]["front"].update(activeColor=to, previousColor=previous)
    return raw


def now(raw):
    return raw["apps"]["front"]


def test_the_settings_of_the_commit_before_the_flip(tmp_path, config):
    git(tmp_path, "init", "-q")
    commit(tmp_path, config, "blue serves")
    config["apps"]["front"]["replicas"] = 4
    commit(tmp_path, config, "a change before the flip")
    commit(tmp_path, flipped(config), "flip to green")
    later = flipped(config)
    later["apps"]["front"]["port"] = 8081
    commit(tmp_path, later, "a change after the flip")
    (tmp_path / "README").write_text("other files do not count\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "readme")
    before = settings_before_flip(tmp_path, "stg", PROJECT, "front", now(later))
    assert before == {**config["apps"]["front"]}, "the newest version with blue active and no previousColor"


def test_an_uncommitted_flip_compares_with_head(tmp_path, config):
    git(tmp_path, "init", "-q")
    commit(tmp_path, config, "blue serves")
    write_stack(tmp_path, "stg", flipped(config))
    assert settings_before_flip(tmp_path, "stg", PROJECT, "front", now(flipped(config))) == config["apps"]["front"]


def test_nothing_to_say_without_git_or_without_an_earlier_state(tmp_path, config):
    write_stack(tmp_path, "stg", flipped(config))
    assert settings_before_flip(tmp_path, "stg", PROJECT, "front", now(flipped(config))) is None, "not a repository"
    git(tmp_path, "init", "-q")
    commit(tmp_path, flipped(config), "born flipped")
    assert settings_before_flip(tmp_path, "stg", PROJECT, "front", now(flipped(config))) is None, "no commit before the flip"


def test_a_broken_old_version_stops_the_search(tmp_path, config):
    git(tmp_path, "init", "-q")
    (tmp_path / "Pulumi.stg.yaml").write_text("config: [unclosed\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "broken")
    commit(tmp_path, flipped(config), "flip")
    assert settings_before_flip(tmp_path, "stg", PROJECT, "front", now(flipped(config))) is None
