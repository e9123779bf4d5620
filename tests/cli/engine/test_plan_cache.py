"""cli/engine/plan_cache: a plan is kept by everything it is a function of, and read back equal, or not at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cli.engine import plan_cache
from cli.engine.plan import PlanError, run_plan
from cli.engine.recording import Recording, Registration
from tests.conftest import BASE_CONFIG, ROOT
from tests.stackfiles import copy_program, write_stack


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "plan-cache"
    monkeypatch.setenv(plan_cache.CACHE_ENV, str(folder))
    return folder


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A copy of the program, keyed as a fresh process planning it would (this one loaded ROOT's `components`)."""
    root = tmp_path / "project"
    copy_program(root)
    write_stack(root, "stg", BASE_CONFIG)
    monkeypatch.setattr(plan_cache, "_loaded_elsewhere", lambda root, packages: False)
    return root


def key_of(root: Path, stack: str = "stg") -> str:
    key = plan_cache.plan_key(stack, root, root / f"Pulumi.{stack}.yaml")
    assert key is not None
    return key.digest


@pytest.mark.parametrize("stack", ["stg", "prod", "local"])
def test_a_second_plan_of_the_same_program_and_stack_file_reads_back_equal(stack, cache):
    first, second = run_plan(stack), run_plan(stack)
    assert (first.cached, second.cached) == (False, True)
    assert second.recording == first.recording and second.recording.resources
    assert second.manifests == first.manifests and second.secret_keys == first.secret_keys
    assert len(list(cache.glob("*.json"))) == 1


def test_every_input_of_the_plan_changes_the_key_and_nothing_else_does(project, cache, monkeypatch):
    before = key_of(project)
    unrelated = [
        (project / "Pulumi.prod.yaml", "config: {}\n"),  # another stack's file
        (project / "build" / "stg" / "resources.json", "[]\n"),
        (project / ".Pulumi.stg.yaml.lock", ""),
        (project / "README.md", "notes\n"),
        (project / "components" / "__pycache__" / "x.cpython-311.pyc", "junk"),
    ]
    for path, text in unrelated:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert key_of(project) == before

    keys = {before}

    def changed() -> str:
        key = key_of(project)
        assert key not in keys
        keys.add(key)
        return key

    stack_file = project / "Pulumi.stg.yaml"
    stack_file.write_bytes(stack_file.read_bytes() + b"\n")
    changed()
    module = project / "components" / "app" / "config.py"
    module.write_text(module.read_text() + "\n# one more line\n")
    changed()
    (project / "components" / "app" / "dashboard.json").write_text("{}")  # data a component could open by path
    changed()
    (project / "Pulumi.yaml").write_text((project / "Pulumi.yaml").read_text() + "\n")
    changed()
    (project / "Pulumi.other.yaml").write_bytes(stack_file.read_bytes())
    assert key_of(project, "other") not in keys  # the same file for another stack
    real = plan_cache._packages()
    monkeypatch.setattr(plan_cache, "_packages", lambda: [*real, "pulumi_kubernetes-9.9.9.dist-info"])
    changed()


def test_a_project_package_the_program_imports_only_through_components_is_hashed(project, cache):
    (project / "helpers").mkdir()
    (project / "helpers" / "__init__.py").write_text("LIMIT = 1\n")
    module = project / "components" / "shared" / "naming.py"
    before = key_of(project)
    module.write_text(module.read_text() + "\nimport helpers  # noqa\n")
    with_import = key_of(project)
    assert with_import != before
    (project / "helpers" / "__init__.py").write_text("LIMIT = 2\n")
    assert key_of(project) != with_import


def test_the_engine_is_part_of_the_key(project, cache, tmp_path, monkeypatch):
    import shutil

    engine = tmp_path / "cli"
    shutil.copytree(ROOT / "cli", engine, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(plan_cache, "_ENGINE", engine)
    before = key_of(project)
    reader = engine / "stackfile" / "read.py"
    reader.write_text(reader.read_text() + "\n")
    assert key_of(project) != before


def test_off_plans_every_time_and_keeps_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv(plan_cache.CACHE_ENV, "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert plan_cache.plan_key("stg", ROOT, ROOT / "Pulumi.stg.yaml") is None
    assert [run_plan("local").cached for _ in range(2)] == [False, False]
    assert not any(tmp_path.iterdir())


def test_the_default_folder_is_under_the_users_cache(monkeypatch, tmp_path):
    monkeypatch.delenv(plan_cache.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert plan_cache.cache_dir() == tmp_path / "bluegreen-platform" / "plans"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert plan_cache.cache_dir() == Path.home() / ".cache" / "bluegreen-platform" / "plans"


def test_a_refused_plan_is_not_kept(cache, tmp_path):
    broken = json.loads(json.dumps(BASE_CONFIG))
    broken["apps"]["front"]["activeColor"] = "purple"
    staged = write_stack(tmp_path, "stg", broken)
    assert plan_cache.plan_key("stg", ROOT, staged) is not None
    with pytest.raises(PlanError, match="activeColor"):
        run_plan("stg", ROOT, staged)
    assert not cache.exists() or not any(cache.glob("*.json"))


def test_a_corrupt_entry_is_planned_again_and_replaced(cache):
    key = plan_cache.plan_key("local", ROOT, ROOT / "Pulumi.local.yaml")
    assert key is not None
    cache.mkdir()
    empty: dict[str, object] = {"resources": [], "invokes": [], "outputs": {}, "warnings": []}
    for garbage in ("{not json", '{"resources": [{"urn": 1}]}', "[]", json.dumps({**empty, "reads": [[1]]}), '"text"'):
        (cache / f"{key.digest}.json").write_text(garbage)
        fresh = run_plan("local")
        assert fresh.cached is False
        assert plan_cache.load(key) == fresh.recording


def test_an_unwritable_cache_never_fails_a_plan(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(plan_cache.CACHE_ENV, str(blocker / "plans"))
    assert [run_plan("local").cached for _ in range(2)] == [False, False]


def test_code_loaded_from_another_folder_is_neither_read_nor_kept(tmp_path, cache):
    """This process imported ROOT's `components`: planning a copy here would run that code, not the copy's."""
    copy_program(tmp_path)
    write_stack(tmp_path, "stg", BASE_CONFIG)
    assert plan_cache.plan_key("stg", tmp_path, tmp_path / "Pulumi.stg.yaml") is None
    key = plan_cache.plan_key("stg", ROOT, ROOT / "Pulumi.stg.yaml")
    assert key is not None
    recording = run_plan("local").recording
    plan_cache.store(plan_cache.PlanKey(key.digest, tmp_path, key.packages, "stg", tmp_path / "Pulumi.stg.yaml"), recording)
    assert not (cache / f"{key.digest}.json").exists()
    plan_cache.store(key, recording)  # the same under ROOT, whose code this is
    assert (cache / f"{key.digest}.json").exists()


def test_a_plan_whose_inputs_changed_while_it_ran_is_not_kept(project, cache):
    key = plan_cache.plan_key("stg", project, project / "Pulumi.stg.yaml")
    recording = run_plan("local").recording
    (project / "Pulumi.stg.yaml").write_text((project / "Pulumi.stg.yaml").read_text() + "\n")
    plan_cache.store(key, recording)
    assert key is not None and not (cache / f"{key.digest}.json").exists()


def test_a_recording_json_cannot_carry_is_not_kept(cache):
    key = plan_cache.plan_key("local", ROOT, ROOT / "Pulumi.local.yaml")
    assert key is not None
    inputs = {"ports": (80, 443)}  # a tuple reads back as a list
    plan_cache.store(key, Recording(resources=[Registration("urn:a", "t", "a", "", [], "", True, inputs)]))
    assert not cache.exists() or not any(cache.iterdir())


def test_the_least_recently_used_go_beyond_the_limit_and_stale_temp_files_too(cache, monkeypatch):
    monkeypatch.setattr(plan_cache, "KEEP", 3)
    cache.mkdir()
    now = time.time()
    for i in range(5):
        entry = cache / f"{i}.json"
        entry.write_text("{}")
        os.utime(entry, (now - 100 + i, now - 100 + i))
    stale, fresh = cache / ".old.tmp", cache / ".writing.tmp"
    for path, age in ((stale, 2 * plan_cache.STALE_TEMP_SECONDS), (fresh, 1)):
        path.write_text("")
        os.utime(path, (now - age, now - age))
    plan_cache._prune(cache)
    assert sorted(p.name for p in cache.iterdir()) == [".writing.tmp", "2.json", "3.json", "4.json"]


def test_concurrent_writers_of_one_key_never_show_a_reader_half_an_entry(cache):
    key = plan_cache.plan_key("local", ROOT, ROOT / "Pulumi.local.yaml")
    assert key is not None
    recording = run_plan("local").recording
    seen: list[Recording | None] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.append(plan_cache.load(key))

    reader = threading.Thread(target=read)
    reader.start()

    def write() -> None:
        for _ in range(10):
            plan_cache.store(key, recording)

    writers = [threading.Thread(target=write) for _ in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    stop.set()
    reader.join()
    assert plan_cache.load(key) == recording
    assert all(found is None or found == recording for found in seen)
    assert [p.name for p in cache.iterdir() if not p.name.endswith(".json")] == []  # no temp file left


def test_make_plan_says_when_it_read_a_plan_back_and_prints_the_same(tmp_path, cache):
    runs = [
        subprocess.run(
            [sys.executable, "-m", "cli", "plan", "--stack", "stg", "--out", str(tmp_path / str(i))],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        for i in range(2)
    ]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr + runs[1].stderr
    assert "planned before" not in runs[0].stderr
    assert f"planned before, read from {plan_cache.CACHE_ENV} folder {cache}" in runs[1].stderr
    assert runs[0].stdout.replace(str(tmp_path / "0"), str(tmp_path / "1")) == runs[1].stdout
    first, second = (
        sorted((p.relative_to(tmp_path / str(i)), p.read_bytes()) for p in (tmp_path / str(i)).rglob("*") if p.is_file()) for i in range(2)
    )
    assert first == second and first
